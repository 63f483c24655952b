import { readFileSync } from 'node:fs';

/** Variables that may instead come from a file named by NAME_FILE (Docker and compose secrets). */
export const FILE_VARIABLES = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'DOCKVAULT_AGE_RECIPIENTS',
  'TEMPORAL_API_KEY',
  'DOCKVAULT_DEDUP_KEY',
] as const;

export class SecretFileError extends Error {
  override name = 'SecretFileError';
}

/**
 * Sets NAME from the file NAME_FILE names (its content without the trailing newline), then drops
 * NAME_FILE, so child processes and a re-executed worker see one source. Setting both is an error:
 * which one wins would be a guess. An empty NAME_FILE is unset (compose's `${VAR:-}`).
 */
export function readSecretFiles(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of FILE_VARIABLES) {
    const path = env[`${name}_FILE`];
    if (path === undefined) continue;
    delete env[`${name}_FILE`];
    if (path === '') continue;
    if (env[name]) throw new SecretFileError(`both ${name} and ${name}_FILE are set: set one of them`);
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch (err) {
      throw new SecretFileError(`${name}_FILE: cannot read ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    env[name] = content.replace(/\r?\n+$/, '');
  }
}
