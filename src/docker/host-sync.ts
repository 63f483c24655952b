import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Writes the host's dirty page cache to disk. The engine's stop unmounts the container's overlay
 * filesystem, which syncs the whole disk below it: with a few GB waiting (a busy host, a previous
 * backup's staging) `docker stop` took 4-5 s instead of 0.3 s, all of it downtime. Syncing first, while
 * the containers still run, leaves the stop little to wait for. Best effort: a failure only costs time.
 */
export async function flushHostWrites(): Promise<void> {
  await run('sync').catch(() => undefined);
}
