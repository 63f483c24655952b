// What the benchmarks read about a process from /proc.
import { readFileSync } from 'node:fs';

/** CPU seconds of a process and the children it has reaped (/proc/PID/stat utime, stime, cutime, cstime). */
export function cpuSeconds(pid: number | 'self'): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return fields.slice(11, 15).reduce((sum: number, f) => sum + Number(f), 0) / 100;
}
