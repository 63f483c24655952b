// The worker and the CLI against a Temporal frontend that requires mTLS: a TLS-terminating proxy in
// front of the dev server (which has no TLS of its own) accepts only client certificates of its CA.
// A backup runs through it; a missing or foreign client certificate, an untrusted server certificate
// and a wrong server name are refused with one-paragraph errors that say what was refused.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { stack } from '../../helpers/stack-env.ts';
import { testCertificates, type TestCertificates } from '../../helpers/test-certificates.ts';
import { TlsProxy } from '../../helpers/tls-proxy.ts';
import { runCli, startWorker } from '../../helpers/worker-process.ts';

const SERVER_NAME = 'temporal.test';
const API_KEY = 'tls-integration-key-6d1f0a9b3c';

let env: BackupTestEnv;
let certs: TestCertificates;
let proxy: TlsProxy;
let definition = '';
let apiKeyFile = '';

/** The test's config with another `temporal.tls` (undefined: none), written next to it. */
async function configWith(name: string, tls: object | undefined, more: object = {}): Promise<string> {
  const config = parse(await readFile(env.configPath, 'utf8')) as { temporal: Record<string, unknown> };
  config.temporal = { address: proxy.address, taskQueue: env.tag, ...(tls && { tls }), ...more };
  const path = join(env.dir, `${name}.yml`);
  await writeFile(path, stringify(config));
  return path;
}

const mtls = (client = () => certs.client) => ({
  caFile: certs.ca.cert,
  certFile: client().cert,
  keyFile: client().key,
  serverName: SERVER_NAME,
});

/** Exit 1 with exactly one line, `dockvault: cannot connect to Temporal at <proxy>: ...`: no stack. */
function assertRefused(r: { code: number; stdout: string; stderr: string }, reason: RegExp): void {
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one paragraph, no stack:\n${r.stderr}`);
  assert.ok(lines[0]!.startsWith(`dockvault: cannot connect to Temporal at ${proxy.address}: `), r.stderr);
  assert.match(lines[0]!, reason);
}

before(async () => {
  env = await BackupTestEnv.create('tls');
  certs = await testCertificates(env.dir, SERVER_NAME);
  proxy = new TlsProxy(stack.temporalAddress);
  await proxy.start(certs);
  apiKeyFile = join(env.dir, 'temporal-api-key');
  await writeFile(apiKeyFile, `${API_KEY}\n`, { mode: 0o600 });
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-data`);
  await fixtures.sh([vol], `echo through-tls > /${vol}/f && head -c 300000 /dev/urandom > /${vol}/r`);
  const app = await fixtures.sleeper(`${tag}-app`, [vol]);
  definition = `${tag}-site`;
  await env.writeConfig([{ name: definition, type: 'standard', containers: [app], volumes: [vol] }]);
  // Worker: mTLS with the server name override (the proxy's certificate names temporal.test) and an
  // API key (the dev server ignores it; that it is sent does not break the connection).
  env.configPath = await configWith('worker', mtls(), { apiKeyFile });
});
after(async () => {
  await env.close();
  await proxy.close();
});

test('the worker and the CLI connect over mTLS through the proxy and a backup runs', async () => {
  const worker = await env.startWorker();
  assert.match(
    worker.output(),
    new RegExp(
      `Temporal ${proxy.address} \\(TLS \\(server CA: \\S+test-ca\\.crt, client certificate: \\S+client\\.crt, server name: ${SERVER_NAME}\\), API key: set \\(file \\S+temporal-api-key\\)\\)`,
    ),
  );
  // The CLI connects by IP address: the server certificate carries 127.0.0.1 too.
  const cli = await configWith('cli', {
    caFile: certs.ca.cert,
    certFile: certs.client.cert,
    keyFile: certs.client.key,
  });
  const r = await runCli(['run', definition, '--config', cli]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const { manifests, uploads } = await env.backups(definition);
  assert.equal(manifests.length, 1, 'one complete backup (its manifest is written last)');
  assert.equal(uploads, 0);
  const restored = await runCli(['verify', definition, '--config', cli, '--identity', env.identityPath]);
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);

  // The API key is a secret: not in the worker's output, and not in the run's history (its plan).
  assert.ok(!worker.output().includes(API_KEY));
  const client = await env.client();
  const runs = client.workflow.list({ query: `DockvaultDefinition = "${definition}"` });
  let histories = 0;
  for await (const run of runs) {
    const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    assert.ok(!JSON.stringify(history).includes(API_KEY), `${run.workflowId}: no API key in history`);
    histories += 1;
  }
  assert.ok(histories >= 1, 'the run was listed');
});

test('the CLI without a client certificate, or with one of another CA, is refused, saying so', async () => {
  const refusalsBefore = proxy.refusals.length;
  const noCert = await configWith('no-cert', { caFile: certs.ca.cert, serverName: SERVER_NAME });
  assertRefused(
    await runCli(['run', definition, '--config', noCert]),
    /the server requires a client certificate \(mTLS\) and none is configured \(certificate required\); set temporal\.tls\.certFile and keyFile$/,
  );
  const foreign = await configWith(
    'foreign-cert',
    mtls(() => certs.otherClient),
  );
  assertRefused(
    await runCli(['schedules', 'list', '--config', foreign]),
    new RegExp(
      `the server refused the client certificate ${certs.otherClient.cert} \\(temporal\\.tls\\.certFile\\) .*it must be signed by a CA the server trusts`,
    ),
  );
  // Node's TLS server refuses a missing certificate in the handshake; one of another CA it verifies
  // after the handshake and closes the connection without a word, which the client's message reflects.
  assert.ok(
    proxy.refusals.slice(refusalsBefore).some((m) => /peer did not return a certificate/.test(m)),
    proxy.refusals.join('\n'),
  );
});

test('an untrusted server certificate and a wrong server name are refused by the CLI, naming the fix', async () => {
  const noCa = await configWith('no-ca', {
    certFile: certs.client.cert,
    keyFile: certs.client.key,
    serverName: SERVER_NAME,
  });
  assertRefused(
    await runCli(['schedules', 'list', '--config', noCa]),
    /the server's certificate \(issued by test-ca\) is not signed by a trusted CA \(SELF_SIGNED_CERT_IN_CHAIN\); set temporal\.tls\.caFile to the CA that signed it$/,
  );
  const wrongName = await configWith('wrong-name', { ...mtls(), serverName: 'other.test' });
  assertRefused(
    await runCli(['schedules', 'list', '--config', wrongName]),
    /the server's certificate is not valid for "other\.test" \(it names temporal\.test, 127\.0\.0\.1\); connect by one of those names or set temporal\.tls\.serverName$/,
  );
  const plain = await configWith('plain', undefined);
  assertRefused(
    await runCli(['schedules', 'list', '--config', plain]),
    /the server expects TLS and this connection is plaintext; set temporal\.tls/,
  );
});

test("the temporal CLI's variables and TEMPORAL_API_KEY_FILE configure the CLI when the config does not", async () => {
  const bare = await configWith('bare', undefined);
  const r = await runCli(['schedules', 'list', '--config', bare], {
    ...process.env,
    TEMPORAL_TLS_CA_PATH: certs.ca.cert,
    TEMPORAL_TLS_CERT_PATH: certs.client.cert,
    TEMPORAL_TLS_KEY_PATH: certs.client.key,
    TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
    TEMPORAL_API_KEY_FILE: apiKeyFile,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const check = await runCli(['config', 'check', bare], {
    ...process.env,
    TEMPORAL_API_KEY_FILE: apiKeyFile,
  });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(
    check.stdout,
    /connection: TLS \(server CA: the system's, no client certificate\), API key: set \(env TEMPORAL_API_KEY\)/,
  );
  assert.ok(!(check.stdout + check.stderr).includes(API_KEY));
  const missing = await runCli([
    'config',
    'check',
    await configWith('missing', { ...mtls(), keyFile: join(env.dir, 'nope.key') }),
  ]);
  assert.equal(missing.code, 1, missing.stdout + missing.stderr);
  assert.match(missing.stderr, /temporal\.tls\.keyFile: cannot read client key \S+nope\.key: no such file/);
});

test('a worker with a client certificate of another CA fails to start, saying so', async () => {
  const foreign = await configWith(
    'worker-foreign',
    mtls(() => certs.otherClient),
  );
  await assert.rejects(startWorker(foreign, join(env.dir, 'state-foreign')), (err: Error) => {
    assert.match(err.message, /worker exited with 1 before it was ready/);
    assert.match(
      err.message,
      new RegExp(
        `dockvault: cannot connect to Temporal at ${proxy.address}: the server refused the client certificate ${certs.otherClient.cert}`,
      ),
    );
    assert.doesNotMatch(err.message, /tonic|TransportError|\n\s+at /);
    return true;
  });
});
