// Who pg_dump connects as, and with which password. The password never travels through Temporal:
// it is read here, on the worker, from a secret file or the container's own environment, and handed
// to the exec as PGPASSWORD (exec environments are neither logged nor put in error messages).
import { readFile } from 'node:fs/promises';

export interface CredentialSettings {
  /** The OS user the commands run as: libpq's default role name. */
  osUser: string;
  dbUser?: string | undefined;
  passwordFile?: string | undefined;
}

export interface Credentials {
  /** -U for pg_dump/psql; undefined leaves it to libpq (PGUSER in the container, else the OS user). */
  dbUser: string | undefined;
  /** KEY=value pairs for the exec; empty when the container's environment already has what it needs. */
  env: string[];
}

export class PasswordFileError extends Error {
  override name = 'PasswordFileError';
}

/** `KEY=value` pairs (Docker's Config.Env) as a map; later entries win, as in the container. */
function envMap(pairs: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq > 0) map.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return map;
}

/**
 * The role and password to use, in this order: the configured dbUser, else the image's
 * POSTGRES_USER (the official image's superuser, unless PGUSER is set); the password from the worker's
 * passwordFile (first line), else the container's PGPASSWORD (inherited by exec as is), else its
 * POSTGRES_PASSWORD when that is the password of the role we connect as.
 */
export async function resolveCredentials(
  settings: CredentialSettings,
  containerEnv: readonly string[],
  read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8'),
): Promise<Credentials> {
  const env = envMap(containerEnv);
  const imageUser = env.get('POSTGRES_USER') || undefined;
  const dbUser = settings.dbUser ?? (env.has('PGUSER') ? undefined : imageUser);
  if (settings.passwordFile !== undefined) {
    let text: string;
    try {
      text = await read(settings.passwordFile);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new PasswordFileError(`cannot read the password file ${settings.passwordFile} (${code})`);
    }
    const password = text.split(/\r?\n/)[0] ?? '';
    if (password === '') throw new PasswordFileError(`the password file ${settings.passwordFile} is empty`);
    return { dbUser, env: [`PGPASSWORD=${password}`] };
  }
  if (env.has('PGPASSWORD')) return { dbUser, env: [] };
  const imagePassword = env.get('POSTGRES_PASSWORD');
  const connectingAs = dbUser ?? env.get('PGUSER') ?? settings.osUser;
  if (imagePassword && connectingAs === (imageUser ?? 'postgres')) {
    return { dbUser, env: [`PGPASSWORD=${imagePassword}`] };
  }
  return { dbUser, env: [] };
}
