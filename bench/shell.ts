// What the benchmarks that run shell pipelines share: the stack's variables, and timed shell commands.
import { execFileSync, spawnSync } from 'node:child_process';

const env = process.env;

/** Fails at once when the local stack's variables are missing. */
export function requireStackEnv(): void {
  for (const name of [
    'TEMPORAL_ADDRESS',
    'DOCKVAULT_S3_ENDPOINT',
    'DOCKVAULT_S3_BUCKET',
    'DOCKVAULT_BUSYBOX_IMAGE',
  ]) {
    if (!env[name]) throw new Error(`${name} is not set: run '. .stack/env' first`);
  }
}

/**
 * Each measurement starts with nothing waiting to be written: the previous one's writes (restic's, the
 * S3 server's) would otherwise be flushed inside the next one (an overlay unmount in `docker stop`
 * syncs the whole disk) and be charged to it.
 */
export function flushWrites(): void {
  execFileSync('sync');
}

/** Runs `script` with bash -o pipefail after flushWrites(); returns its wall time in seconds. */
export function sh(script: string, extraEnv: Record<string, string> = {}): number {
  flushWrites();
  const t0 = performance.now();
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', script], {
    stdio: 'inherit',
    env: { ...env, ...extraEnv },
  });
  if (r.status !== 0) throw new Error(`failed (${r.status}): ${script}`);
  return (performance.now() - t0) / 1000;
}
