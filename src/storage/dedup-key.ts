// The key chunk names are computed with. Like the S3 credentials it lives on the worker only (never in
// Temporal, the config or the bucket): a chunk's name is HMAC-SHA256(key, plaintext), so the store
// cannot test a guess of the content against the names. Losing it costs deduplication, never a restore.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DEDUP_KEY_VARIABLE = 'DOCKVAULT_DEDUP_KEY';
const MIN_LENGTH = 32;

export class DedupKeyError extends Error {
  override name = 'DedupKeyError';
  readonly retryable = false;
}

function checked(key: string, where: string): Buffer {
  if (key.length < MIN_LENGTH) {
    throw new DedupKeyError(
      `${where} has ${key.length} characters, at least ${MIN_LENGTH} are needed (e.g. openssl rand -hex 32)`,
    );
  }
  return Buffer.from(key, 'utf8');
}

/**
 * DOCKVAULT_DEDUP_KEY (or the file DOCKVAULT_DEDUP_KEY_FILE names, see secret-files.ts) when set, so
 * that workers sharing it deduplicate against each other; else a key this worker generates once in its
 * state directory (then it deduplicates only against its own backups).
 */
export async function loadDedupKey(stateDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  const fromEnv = env[DEDUP_KEY_VARIABLE];
  if (fromEnv) return checked(fromEnv, DEDUP_KEY_VARIABLE);
  const path = join(stateDir, 'dedup-key');
  try {
    await writeFile(path, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return checked((await readFile(path, 'utf8')).trim(), path);
}
