// The worker's last self-check, in a file of its state directory: `dockvault health` (the image's
// HEALTHCHECK) reads it, so checking needs no port, no Temporal connection and no worker code.
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const HEALTH_FILE = 'worker-health.json';

export interface HealthReport {
  healthy: boolean;
  /** What was checked and found, or why the worker is not healthy. */
  detail: string;
  checkedAt: string;
  pid: number;
}

export function healthFilePath(stateDir: string): string {
  return join(stateDir, HEALTH_FILE);
}

/** Replaces the file atomically, so a reader never sees half a report. */
export async function writeHealthReport(stateDir: string, report: Omit<HealthReport, 'checkedAt' | 'pid'>) {
  const path = healthFilePath(stateDir);
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const full: HealthReport = { ...report, checkedAt: new Date().toISOString(), pid: process.pid };
  await writeFile(temp, `${JSON.stringify(full)}\n`);
  await rename(temp, path);
}

/** The last report, or undefined when no worker has written one in this state directory. */
export async function readHealthReport(stateDir: string): Promise<HealthReport | undefined> {
  let text: string;
  try {
    text = await readFile(healthFilePath(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as HealthReport;
}
