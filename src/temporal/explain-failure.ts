import net from 'node:net';
import tls from 'node:tls';
import type { TemporalConnectionOptions, TemporalSecurity } from './connection-options.ts';
import { TemporalConnectionError } from './errors.ts';

/**
 * Neither SDK says why a connection failed in words: @temporalio/client only reports "Failed to
 * connect before the deadline", the worker's core a tonic transport error. So after a failure we
 * repeat the handshake with node:tls, same files and server name, and name what was refused.
 */

const PROBE_TIMEOUT_MS = 5000;
/** TLS 1.3 servers judge the client certificate after the client's handshake ends: wait for the alert. */
const ALERT_WAIT_MS = 1500;

export function splitAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  return match ? { host: match[1]!, port: Number(match[2]) } : { host: address, port: 7233 };
}

type TlsOptions = Exclude<TemporalConnectionOptions['tls'], false>;

interface Unreachable {
  code: string;
  message: string;
}

type Probe =
  | { kind: 'tls-error'; code: string; message: string }
  | {
      kind: 'tls';
      authorized: boolean;
      authorizationError?: string;
      cert: tls.PeerCertificate;
      alert?: { code: string; message: string };
    };

function unreachable(host: string, port: number): Promise<Unreachable | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: PROBE_TIMEOUT_MS });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ code: 'ETIMEDOUT', message: `no answer within ${PROBE_TIMEOUT_MS / 1000} s` });
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      resolve({ code: err.code ?? '', message: err.message }),
    );
  });
}

function handshake(host: string, port: number, options: TlsOptions): Promise<Probe> {
  return new Promise((resolve) => {
    let socket: tls.TLSSocket;
    try {
      socket = tls.connect({
        host,
        port,
        // An IP address is not a valid SNI name; Node checks it against the certificate's IP entries.
        ...(options.serverNameOverride
          ? { servername: options.serverNameOverride }
          : net.isIP(host) === 0 && { servername: host }),
        ...(options.serverRootCACertificate && { ca: options.serverRootCACertificate }),
        ...(options.clientCertPair && { cert: options.clientCertPair.crt, key: options.clientCertPair.key }),
        ALPNProtocols: ['h2'],
        // Verified below, so the probe can say which name or issuer was wrong.
        rejectUnauthorized: false,
        timeout: PROBE_TIMEOUT_MS,
      });
    } catch (err) {
      resolve({
        kind: 'tls-error',
        code: (err as NodeJS.ErrnoException).code ?? '',
        message: (err as Error).message,
      });
      return;
    }
    let secured: Extract<Probe, { kind: 'tls' }> | undefined;
    const done = (probe: Probe) => {
      socket.destroy();
      resolve(probe);
    };
    socket.once('secureConnect', () => {
      secured = {
        kind: 'tls',
        authorized: socket.authorized,
        cert: socket.getPeerCertificate(),
        ...(socket.authorizationError && { authorizationError: String(socket.authorizationError) }),
      };
      setTimeout(() => done(secured!), ALERT_WAIT_MS).unref();
    });
    socket.once('timeout', () =>
      done(secured ?? { kind: 'tls-error', code: 'ETIMEDOUT', message: 'no TLS handshake' }),
    );
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const failure = { code: err.code ?? '', message: err.message };
      done(secured ? { ...secured, alert: failure } : { kind: 'tls-error', ...failure });
    });
    socket.once('close', () => {
      if (secured)
        done({ ...secured, alert: secured.alert ?? { code: 'ECONNRESET', message: 'closed by the server' } });
    });
  });
}

const REFUSED_CREDENTIALS = /UNAUTHENTICATED|PERMISSION_DENIED|PermissionDenied|Unauthenticated/;

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

function alertName(code: string, message: string): string {
  const alert = /alert (?:number \d+)?\s*([a-z ]+)?/i.exec(message)?.[1]?.trim();
  return (
    /ALERT_(\w+)$/.exec(code)?.[1]?.toLowerCase().replaceAll('_', ' ') ??
    (alert || (code === 'ECONNRESET' ? 'it closed the connection after the handshake' : message))
  );
}

function names(cert: tls.PeerCertificate): string {
  const alt = cert.subjectaltname?.replace(/(DNS|IP Address):/g, '').split(/,\s*/) ?? [];
  return (alt.length > 0 ? alt : [String(cert.subject?.CN ?? 'no name')]).join(', ');
}

function explainTls(
  probe: Probe,
  host: string,
  options: TlsOptions,
  security: TemporalSecurity,
): string | undefined {
  const files = security.tls === false ? {} : security.tls;
  const certFrom = files.certFile ? `${files.certFile.value} (${files.certFile.from})` : '';
  if (probe.kind === 'tls-error') {
    if (
      /WRONG_VERSION_NUMBER|packet length too long|unknown protocol/i.test(`${probe.code} ${probe.message}`)
    )
      return 'the server does not speak TLS on this port; remove temporal.tls (and TEMPORAL_TLS*) or use its TLS address';
    if (probe.code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' || /key values mismatch/i.test(probe.message))
      return `the client key (${files.keyFile?.value}) does not belong to the client certificate ${certFrom}`;
    if (/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE/i.test(probe.code) && !options.clientCertPair)
      return 'the server requires a client certificate (mTLS) and none is configured; set temporal.tls.certFile and keyFile';
    if (/ALERT/.test(probe.code))
      return `the server refused the TLS handshake (${alertName(probe.code, probe.message)})${certFrom ? `; client certificate ${certFrom}` : ''}`;
    return `TLS handshake failed: ${probe.message}`;
  }
  if (probe.kind !== 'tls') return undefined;
  const issuer = probe.cert.issuer?.CN ? ` (issued by ${String(probe.cert.issuer.CN)})` : '';
  if (!probe.authorized && probe.authorizationError && UNTRUSTED.has(probe.authorizationError))
    return `the server's certificate${issuer} is not signed by a trusted CA (${probe.authorizationError}); set temporal.tls.caFile to the CA that signed it`;
  const expected = options.serverNameOverride ?? host;
  // Node reports a name mismatch as the authorization error of an otherwise trusted certificate.
  if (
    probe.authorizationError === 'ERR_TLS_CERT_ALTNAME_INVALID' ||
    tls.checkServerIdentity(expected, probe.cert)
  )
    return `the server's certificate is not valid for "${expected}" (it names ${names(probe.cert)}); connect by one of those names or set temporal.tls.serverName`;
  if (!probe.authorized && probe.authorizationError)
    return `the server's certificate${issuer} was refused: ${probe.authorizationError}`;
  if (probe.alert) {
    if (!options.clientCertPair)
      return `the server requires a client certificate (mTLS) and none is configured (${alertName(probe.alert.code, probe.alert.message)}); set temporal.tls.certFile and keyFile`;
    return `the server refused the client certificate ${certFrom} (${alertName(probe.alert.code, probe.alert.message)}); it must be signed by a CA the server trusts for clients`;
  }
  return undefined;
}

/** The error a user sees for a failed connect: what was refused and what to set, never a stack. */
export async function explainConnectFailure(
  options: TemporalConnectionOptions,
  security: TemporalSecurity,
  err: unknown,
): Promise<TemporalConnectionError> {
  const { host, port } = splitAddress(options.address);
  const sdkMessage = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  // The server answered and refused the credentials (Temporal Cloud without a valid key): no probe.
  if (REFUSED_CREDENTIALS.test(sdkMessage)) {
    const source = !security.apiKey
      ? 'no API key is configured (temporal.apiKeyFile, temporal.apiKeyEnv or TEMPORAL_API_KEY)'
      : 'env' in security.apiKey
        ? `check the API key in ${security.apiKey.env}`
        : `check the API key in ${security.apiKey.file.value}`;
    return new TemporalConnectionError(
      options.address,
      `the server refused the request (${sdkMessage}); ${source}`,
    );
  }
  const down = await unreachable(host, port);
  if (down) {
    const why =
      down.code === 'ECONNREFUSED'
        ? 'connection refused (is the server running, and is this its frontend port?)'
        : down.code === 'ENOTFOUND' || down.code === 'EAI_AGAIN'
          ? `host name ${host} not found`
          : down.message;
    return new TemporalConnectionError(options.address, why);
  }
  if (options.tls) {
    const reason = explainTls(await handshake(host, port, options.tls), host, options.tls, security);
    if (reason) return new TemporalConnectionError(options.address, reason);
    return new TemporalConnectionError(
      options.address,
      `the TLS handshake succeeds but Temporal did not answer (${sdkMessage})`,
    );
  }
  const speaksTls = await handshake(host, port, {});
  if (speaksTls.kind === 'tls')
    return new TemporalConnectionError(
      options.address,
      'the server expects TLS and this connection is plaintext; set temporal.tls (true, or caFile for a private CA; certFile and keyFile for mTLS)',
    );
  return new TemporalConnectionError(options.address, `Temporal did not answer (${sdkMessage})`);
}
