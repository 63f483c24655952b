import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { TemporalSecurity } from '../../../src/temporal/connection-options.ts';
import { TemporalConnectionError } from '../../../src/temporal/errors.ts';
import { explainConnectFailure, splitAddress } from '../../../src/temporal/explain-failure.ts';

const API_KEY = 'tls-unit-explain-9a7d';
const withKeyFile: TemporalSecurity = {
  tls: {},
  apiKey: { file: { value: '/run/secrets/temporal-api-key', from: 'temporal.apiKeyFile' } },
};

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('explaining a failed Temporal connection', () => {
  it('splits host and port, IPv6 in brackets, port 7233 by default', () => {
    assert.deepEqual(splitAddress('temporal.example.com:7233'), { host: 'temporal.example.com', port: 7233 });
    assert.deepEqual(splitAddress('[::1]:7234'), { host: '::1', port: 7234 });
    assert.deepEqual(splitAddress('temporal'), { host: 'temporal', port: 7233 });
  });

  it('names the API key source when the server refuses the credentials, never the key', async () => {
    const err = await explainConnectFailure(
      { address: 'ns.acct.tmprl.cloud:7233', tls: {}, apiKey: API_KEY },
      withKeyFile,
      new Error('16 UNAUTHENTICATED: Request unauthorized.\n    at stack'),
    );
    assert.ok(err instanceof TemporalConnectionError);
    assert.equal(
      err.message,
      'cannot connect to Temporal at ns.acct.tmprl.cloud:7233: the server refused the request (16 UNAUTHENTICATED: Request unauthorized.); check the API key in /run/secrets/temporal-api-key',
    );
    assert.ok(!err.message.includes(API_KEY));
    const none = await explainConnectFailure(
      { address: 'ns.acct.tmprl.cloud:7233', tls: {} },
      { tls: {} },
      new Error('7 PERMISSION_DENIED: no'),
    );
    assert.match(
      none.message,
      /no API key is configured \(temporal\.apiKeyFile, temporal\.apiKeyEnv or TEMPORAL_API_KEY\)$/,
    );
  });

  it('says the connection was refused when nothing listens', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const err = await explainConnectFailure(
      { address, tls: false },
      { tls: false },
      new Error('Failed to connect before the deadline'),
    );
    assert.equal(
      err.message,
      `cannot connect to Temporal at ${address}: connection refused (is the server running, and is this its frontend port?)`,
    );
  });
});
