import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/index.ts';

const seed = `backupDefinitions:
  - name: app
    type: standard
    containers: [web]
    volumes: [data]
`;

const temporal = (section: string, env: Record<string, string> = {}) =>
  parseConfig(`temporal:\n${section}\n${seed}`, 'dockvault.yml', env).temporal;

describe('temporal TLS and API key fields', () => {
  it('are absent by default: plaintext, no API key', () => {
    const t = parseConfig(seed, 'dockvault.yml', {}).temporal;
    assert.equal(t.tls, undefined);
    assert.equal(t.apiKeyFile, undefined);
    assert.equal(t.apiKeyEnv, undefined);
  });

  it('take files for mTLS, a server name, and an API key file', () => {
    const t = temporal(`  address: temporal.example.com:7233
  tls:
    caFile: /etc/dockvault/ca.pem
    certFile: /etc/dockvault/client.pem
    keyFile: /etc/dockvault/client.key
    serverName: temporal.internal
  apiKeyFile: /run/secrets/temporal-api-key`);
    assert.deepEqual(t.tls, {
      caFile: '/etc/dockvault/ca.pem',
      certFile: '/etc/dockvault/client.pem',
      keyFile: '/etc/dockvault/client.key',
      serverName: 'temporal.internal',
    });
    assert.equal(t.apiKeyFile, '/run/secrets/temporal-api-key');
  });

  it('take tls: true (system CAs) with an API key variable, and tls: false', () => {
    assert.equal(temporal('  tls: true\n  apiKeyEnv: TEMPORAL_CLOUD_KEY').tls, true);
    assert.equal(temporal('  tls: true\n  apiKeyEnv: TEMPORAL_CLOUD_KEY').apiKeyEnv, 'TEMPORAL_CLOUD_KEY');
    assert.equal(temporal('  tls: false').tls, false);
  });

  it('interpolate paths from the environment, like every other field', () => {
    const t = temporal('  tls: { caFile: "${CA:-/etc/dockvault/ca.pem}" }', { CA: '/run/secrets/ca' });
    assert.deepEqual(t.tls, { caFile: '/run/secrets/ca' });
  });
});
