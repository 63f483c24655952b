import { parseInterval } from '../config/duration.ts';
import { UsageError } from './command.ts';

/** Flag values use the config's interval grammar (`30s`, `5m`, `1h`). */
export function parseDurationFlag(text: string, flag: string): number {
  const parsed = parseInterval(text);
  if (!parsed.ok) throw new UsageError(`${flag}: ${parsed.message}`);
  return parsed.ms;
}
