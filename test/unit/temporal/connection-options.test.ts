import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/index.ts';
import { buildPlan } from '../../../src/plan/build.ts';
import {
  describeTemporalSecurity,
  resolveTemporalSecurity,
  temporalConnectionOptions,
} from '../../../src/temporal/connection-options.ts';
import { TemporalCredentialsError } from '../../../src/temporal/errors.ts';
import { fixtureEnv } from '../../helpers/config-fixture.ts';
import { scratchDir } from '../../helpers/scratch.ts';

const API_KEY = 'tls-unit-api-key-3f9c1e77d2';
const PEM = (what: string) => `-----BEGIN ${what}-----\nMIIB\n-----END ${what}-----\n`;

let dir = '';
let cleanup = async () => {};
const file = (name: string) => join(dir, name);

before(async () => {
  ({ dir, cleanup } = await scratchDir('tls-unit'));
  await writeFile(file('ca.pem'), PEM('CERTIFICATE'));
  await writeFile(file('client.pem'), PEM('CERTIFICATE'));
  await writeFile(file('client.key'), PEM('PRIVATE KEY'));
  await writeFile(file('api-key'), `${API_KEY}\n`);
  await writeFile(file('not-pem'), 'hello');
  await writeFile(file('empty'), '');
});
after(() => cleanup());

function config(temporal: string) {
  return parseConfig(
    `temporal:\n${temporal}
encryption:
  recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
backupDefinitions:
  - name: app
    type: standard
    containers: [web]
    volumes: [data]
`,
    'dockvault.yml',
    fixtureEnv,
  );
}
const settings = (temporal: string) => config(temporal).temporal;

async function refused(temporal: string, env: NodeJS.ProcessEnv, message: RegExp): Promise<void> {
  await assert.rejects(temporalConnectionOptions(settings(temporal), env), (err: unknown) => {
    assert.ok(err instanceof TemporalCredentialsError, String(err));
    assert.match(err.message, message);
    return true;
  });
}

describe('temporal connection options', () => {
  it('are plaintext with the address only by default', async () => {
    const { options } = await temporalConnectionOptions(settings('  address: 127.0.0.1:7233'), {});
    assert.deepEqual(options, { address: '127.0.0.1:7233', tls: false });
  });

  it('read the CA, the client certificate and key, and pass the server name', async () => {
    const { options } = await temporalConnectionOptions(
      settings(`  address: 127.0.0.1:7233
  tls: { caFile: ${file('ca.pem')}, certFile: ${file('client.pem')}, keyFile: ${file('client.key')}, serverName: temporal.test }`),
      {},
    );
    assert.ok(options.tls);
    assert.equal(options.tls.serverRootCACertificate?.toString(), PEM('CERTIFICATE'));
    assert.equal(options.tls.clientCertPair?.crt.toString(), PEM('CERTIFICATE'));
    assert.equal(options.tls.clientCertPair?.key.toString(), PEM('PRIVATE KEY'));
    assert.equal(options.tls.serverNameOverride, 'temporal.test');
    assert.equal(options.apiKey, undefined);
  });

  it('set the API key from its file and turn TLS on (Temporal Cloud), with the system CAs', async () => {
    const { options } = await temporalConnectionOptions(settings(`  apiKeyFile: ${file('api-key')}`), {});
    assert.equal(options.apiKey, API_KEY);
    assert.deepEqual(options.tls, {});
  });

  it('take the API key from apiKeyEnv, else TEMPORAL_API_KEY; tls: false keeps plaintext', async () => {
    const fromNamed = await temporalConnectionOptions(settings('  apiKeyEnv: CLOUD_KEY'), {
      CLOUD_KEY: API_KEY,
    });
    assert.equal(fromNamed.options.apiKey, API_KEY);
    const fromDefault = await temporalConnectionOptions(settings('  tls: false'), {
      TEMPORAL_API_KEY: API_KEY,
    });
    assert.equal(fromDefault.options.apiKey, API_KEY);
    assert.equal(fromDefault.options.tls, false);
  });

  it("fill what the config leaves unset from the temporal CLI's variables", async () => {
    const env = {
      TEMPORAL_TLS_CA_PATH: file('ca.pem'),
      TEMPORAL_TLS_CERT_PATH: file('client.pem'),
      TEMPORAL_TLS_KEY_PATH: file('client.key'),
      TEMPORAL_TLS_SERVER_NAME: 'from-env.test',
    };
    const { options, security } = await temporalConnectionOptions(
      settings('  tls: { serverName: from-config.test }'),
      env,
    );
    assert.ok(options.tls && options.tls.clientCertPair);
    assert.equal(options.tls.serverNameOverride, 'from-config.test');
    assert.match(
      describeTemporalSecurity(security),
      /client certificate: .*client\.pem \(TEMPORAL_TLS_CERT_PATH\)/,
    );
    const off = await temporalConnectionOptions(settings('  tls: false'), env);
    assert.equal(off.options.tls, false);
    const byFlag = await temporalConnectionOptions(settings('  namespace: default'), {
      TEMPORAL_TLS: 'true',
    });
    assert.deepEqual(byFlag.options.tls, {});
  });

  it('name the field and the path of a missing, empty or non-PEM file', async () => {
    await refused(
      `  tls: { caFile: ${file('missing.pem')} }`,
      {},
      new RegExp(
        `^temporal\\.tls\\.caFile: cannot read CA certificate ${file('missing.pem')}: no such file$`,
      ),
    );
    await refused(
      `  tls: { caFile: ${file('not-pem')} }`,
      {},
      /^temporal\.tls\.caFile: .*not-pem is not PEM/,
    );
    await refused(
      `  apiKeyFile: ${file('empty')}`,
      {},
      /^temporal\.apiKeyFile: API key file .*empty is empty$/,
    );
    await refused(
      '  namespace: default',
      { TEMPORAL_TLS_KEY_PATH: file('missing.key'), TEMPORAL_TLS_CERT_PATH: file('client.pem') },
      /^TEMPORAL_TLS_KEY_PATH: cannot read client key .*missing\.key: no such file$/,
    );
  });

  it('refuse a certificate without its key (from the environment), an unset apiKeyEnv, a bad TEMPORAL_TLS', async () => {
    await refused('  tls: true', { TEMPORAL_TLS_CERT_PATH: file('client.pem') }, /mTLS needs both/);
    await refused(
      '  apiKeyEnv: CLOUD_KEY',
      {},
      /^temporal\.apiKeyEnv: environment variable CLOUD_KEY is not set$/,
    );
    await refused('  namespace: default', { TEMPORAL_TLS: 'maybe' }, /^TEMPORAL_TLS: expected true or false/);
  });

  it('never show the API key: not in the description, the errors, the config or the plans', async () => {
    const fromFile = config(`  apiKeyFile: ${file('api-key')}`);
    const security = resolveTemporalSecurity(fromFile.temporal, {});
    assert.equal(
      describeTemporalSecurity(security),
      `TLS (server CA: the system's, no client certificate), API key: set (file ${file('api-key')})`,
    );
    const fromEnv = resolveTemporalSecurity(config('  tls: true').temporal, { TEMPORAL_API_KEY: API_KEY });
    assert.equal(
      describeTemporalSecurity(fromEnv),
      "TLS (server CA: the system's, no client certificate), API key: set (env TEMPORAL_API_KEY)",
    );
    await writeFile(file('two-lines'), `${API_KEY}\nsecond\n`);
    await assert.rejects(
      temporalConnectionOptions(settings(`  apiKeyFile: ${file('two-lines')}`), {}),
      (err: Error) => {
        assert.match(err.message, /must hold one line/);
        assert.ok(!err.message.includes(API_KEY));
        return true;
      },
    );
    // Plans are workflow inputs, kept in Temporal history: no connection setting belongs there.
    const plan = buildPlan(fromFile, fromFile.backupDefinitions[0]!);
    assert.ok(!JSON.stringify(plan).includes('api-key'));
    assert.ok(!JSON.stringify(plan).includes(API_KEY));
  });
});
