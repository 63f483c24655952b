import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertPair {
  cert: string;
  key: string;
}

/** Files written by `testCertificates`: paths, for configs and the proxy. */
export interface TestCertificates {
  ca: CertPair;
  server: CertPair;
  /** Signed by `ca`: what the proxy accepts. */
  client: CertPair;
  /** Signed by another CA the proxy does not trust. */
  otherClient: CertPair;
  otherCa: CertPair;
}

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args);
}

/** openssl req arguments for a new unencrypted P-256 key written to `keyFile`. */
const newKey = (keyFile: string) => [
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:P-256',
  '-nodes',
  '-keyout',
  keyFile,
];

async function selfSigned(dir: string, name: string): Promise<CertPair> {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await openssl([
    'req',
    '-x509',
    ...newKey(pair.key),
    '-out',
    pair.cert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
  return pair;
}

async function signed(dir: string, name: string, ca: CertPair, extensions: string): Promise<CertPair> {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await openssl(['req', ...newKey(pair.key), '-out', csr, '-subj', `/CN=${name}`]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    pair.cert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return pair;
}

/**
 * A throwaway PKI made with the openssl CLI: a CA, a server certificate for `serverName` and
 * 127.0.0.1, a client certificate it signed, and a client certificate of a CA nobody trusts.
 */
export async function testCertificates(dir: string, serverName: string): Promise<TestCertificates> {
  const ca = await selfSigned(dir, 'test-ca');
  const otherCa = await selfSigned(dir, 'other-ca');
  return {
    ca,
    otherCa,
    server: await signed(
      dir,
      'server',
      ca,
      `subjectAltName=DNS:${serverName},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`,
    ),
    client: await signed(dir, 'client', ca, 'extendedKeyUsage=clientAuth\n'),
    otherClient: await signed(dir, 'other-client', otherCa, 'extendedKeyUsage=clientAuth\n'),
  };
}
