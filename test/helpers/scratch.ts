import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** A short random tag, so parallel and repeated runs never share names on the shared stack. */
export function uniqueTag(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A temp directory removed by the returned cleanup. */
export async function scratchDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
