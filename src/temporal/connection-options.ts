import { readFile } from 'node:fs/promises';
import type { TemporalSettings } from '../config/index.ts';
import { TemporalCredentialsError } from './errors.ts';

/**
 * Where each TLS file and the API key come from: the config's field, else the variable the `temporal`
 * CLI reads for the same thing, so one environment serves both tools. `from` names the source in
 * errors and in `config check`; values never leave this module except into the connection.
 */
export interface Source {
  value: string;
  from: string;
}

export interface TemporalSecurity {
  tls: false | { caFile?: Source; certFile?: Source; keyFile?: Source; serverName?: Source };
  apiKey?: { file: Source } | { env: string };
}

/** What both @temporalio/client's Connection and @temporalio/worker's NativeConnection take. */
export interface TemporalConnectionOptions {
  address: string;
  /** `false`, not absent, for plaintext: both SDKs turn TLS on by themselves when an API key is set. */
  tls:
    | false
    | {
        serverRootCACertificate?: Buffer;
        clientCertPair?: { crt: Buffer; key: Buffer };
        serverNameOverride?: string;
      };
  apiKey?: string;
}

export const TLS_ENV = {
  enabled: 'TEMPORAL_TLS',
  caFile: 'TEMPORAL_TLS_CA_PATH',
  certFile: 'TEMPORAL_TLS_CERT_PATH',
  keyFile: 'TEMPORAL_TLS_KEY_PATH',
  serverName: 'TEMPORAL_TLS_SERVER_NAME',
} as const;
export const API_KEY_ENV = 'TEMPORAL_API_KEY';

type Env = NodeJS.ProcessEnv;

function flag(env: Env, name: string): boolean | undefined {
  const text = env[name]?.trim().toLowerCase();
  if (!text) return undefined;
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  throw new TemporalCredentialsError(`${name}: expected true or false, got "${env[name]}"`);
}

function pick(configured: string | undefined, field: string, env: Env, variable: string): Source | undefined {
  if (configured !== undefined) return { value: configured, from: `temporal.tls.${field}` };
  const value = env[variable];
  return value ? { value, from: variable } : undefined;
}

/** The config's choices completed from the environment; reads nothing. */
export function resolveTemporalSecurity(
  settings: TemporalSettings,
  env: Env = process.env,
): TemporalSecurity {
  const apiKey: TemporalSecurity['apiKey'] =
    settings.apiKeyFile !== undefined
      ? { file: { value: settings.apiKeyFile, from: 'temporal.apiKeyFile' } }
      : settings.apiKeyEnv !== undefined
        ? { env: settings.apiKeyEnv }
        : env[API_KEY_ENV]
          ? { env: API_KEY_ENV }
          : undefined;
  const files = typeof settings.tls === 'object' ? settings.tls : {};
  const tls = {
    caFile: pick(files.caFile, 'caFile', env, TLS_ENV.caFile),
    certFile: pick(files.certFile, 'certFile', env, TLS_ENV.certFile),
    keyFile: pick(files.keyFile, 'keyFile', env, TLS_ENV.keyFile),
    serverName: pick(files.serverName, 'serverName', env, TLS_ENV.serverName),
  };
  const fromEnv = Object.values(tls).some((s) => s !== undefined && !s.from.startsWith('temporal.'));
  // An explicit `false` (config, else TEMPORAL_TLS) wins: a plaintext proxy in front of a cluster
  // that still wants an API key. Otherwise any TLS setting, or an API key, turns TLS on (Temporal Cloud).
  const enabled =
    settings.tls === false
      ? false
      : settings.tls !== undefined || (flag(env, TLS_ENV.enabled) ?? (fromEnv || apiKey !== undefined));
  if (!enabled) return apiKey ? { tls: false, apiKey } : { tls: false };
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    const [set, missing] = tls.certFile ? [tls.certFile, 'keyFile'] : [tls.keyFile!, 'certFile'];
    throw new TemporalCredentialsError(
      `${set.from} is set but temporal.tls.${missing} is not (nor ${TLS_ENV[missing as 'keyFile' | 'certFile']}): mTLS needs both the client certificate and its key`,
    );
  }
  const present = Object.fromEntries(Object.entries(tls).filter(([, s]) => s !== undefined));
  return apiKey ? { tls: present, apiKey } : { tls: present };
}

async function readSource(source: Source, what: string): Promise<Buffer> {
  let content: Buffer;
  try {
    content = await readFile(source.value);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason =
      e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new TemporalCredentialsError(`${source.from}: cannot read ${what} ${source.value}: ${reason}`);
  }
  if (content.length === 0)
    throw new TemporalCredentialsError(`${source.from}: ${what} ${source.value} is empty`);
  return content;
}

async function readPem(source: Source, what: string): Promise<Buffer> {
  const content = await readSource(source, what);
  if (!content.includes('-----BEGIN '))
    throw new TemporalCredentialsError(
      `${source.from}: ${what} ${source.value} is not PEM (no "-----BEGIN" line)`,
    );
  return content;
}

async function readApiKey(apiKey: NonNullable<TemporalSecurity['apiKey']>, env: Env): Promise<string> {
  if ('env' in apiKey) {
    const value = env[apiKey.env]?.trim();
    if (!value)
      throw new TemporalCredentialsError(`temporal.apiKeyEnv: environment variable ${apiKey.env} is not set`);
    return value;
  }
  const value = (await readSource(apiKey.file, 'API key file')).toString('utf8').trim();
  if (value === '' || /[\r\n]/.test(value))
    throw new TemporalCredentialsError(
      `${apiKey.file.from}: API key file ${apiKey.file.value} must hold one line, the key`,
    );
  return value;
}

/**
 * The one translation of the config into connection options, for the worker and every CLI command:
 * reads the files now (each process its own, like the S3 credentials), so a bad path fails before
 * anything connects.
 */
export async function temporalConnectionOptions(
  settings: TemporalSettings,
  env: Env = process.env,
): Promise<{ options: TemporalConnectionOptions; security: TemporalSecurity }> {
  const security = resolveTemporalSecurity(settings, env);
  const options: TemporalConnectionOptions = { address: settings.address, tls: false };
  if (security.apiKey) options.apiKey = await readApiKey(security.apiKey, env);
  if (security.tls === false) return { options, security };
  const { caFile, certFile, keyFile, serverName } = security.tls;
  options.tls = {
    ...(caFile && { serverRootCACertificate: await readPem(caFile, 'CA certificate') }),
    ...(certFile &&
      keyFile && {
        clientCertPair: {
          crt: await readPem(certFile, 'client certificate'),
          key: await readPem(keyFile, 'client key'),
        },
      }),
    ...(serverName && { serverNameOverride: serverName.value }),
  };
  return { options, security };
}

const where = (s: Source) => (s.from.startsWith('temporal.') ? s.value : `${s.value} (${s.from})`);

/** For logs and `config check`: which files and sources, never a key. */
export function describeTemporalSecurity(security: TemporalSecurity): string {
  const parts: string[] = [];
  if (security.tls === false) parts.push('plaintext (no TLS)');
  else {
    const { caFile, certFile, serverName } = security.tls;
    parts.push(
      [
        `TLS (server CA: ${caFile ? where(caFile) : "the system's"}`,
        certFile ? `, client certificate: ${where(certFile)}` : ', no client certificate',
        serverName ? `, server name: ${serverName.value}` : '',
        ')',
      ].join(''),
    );
  }
  if (security.apiKey)
    parts.push(
      'env' in security.apiKey
        ? `API key: set (env ${security.apiKey.env})`
        : `API key: set (file ${security.apiKey.file.value})`,
    );
  return parts.join(', ');
}
