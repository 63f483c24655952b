// Who compresses a PostgreSQL dump. Measured on this project's hosts (see README): moving the
// uncompressed dump through Docker's exec relay costs more than pg_dump's own gzip at level 1, so by
// default pg_dump compresses inside the container (`--compress=1`) and dockvault only encrypts.
// With `--compress=0` (or -Z0) in extraArgs, pg_dump writes raw and dockvault compresses with the
// configured algorithm (zstd 3 by default: smaller, more bytes through the relay).
// A dump stored in chunks (postgres.storage: chunked) is always written raw: the chunks of an
// unchanged table deduplicate only if its bytes are unchanged, and dockvault compresses each chunk.
// No Node imports: the workflow uses this too.
import type { Compression } from '../pipeline/compression.ts';
import type { DumpStorage } from '../plan/types.ts';

export const DEFAULT_PG_DUMP_COMPRESSION = 1;

/** The compression level given in pg_dump extra arguments (`-Z 5`, `-Z5`, `--compress=5`, `--compress 5`). */
export function userCompressionLevel(extraArgs: readonly string[]): number | undefined {
  let level: number | undefined;
  extraArgs.forEach((arg, i) => {
    let value: string | undefined;
    if (arg === '-Z' || arg === '--compress') value = extraArgs[i + 1];
    else if (arg.startsWith('--compress=')) value = arg.slice('--compress='.length);
    else if (/^-Z.+/.test(arg)) value = arg.slice(2);
    if (value === undefined) return;
    // PostgreSQL 16 accepts "gzip:5", "zstd", "none": anything but a plain 0/none counts as compressing.
    const spec = value.replace(/^gzip:/, '');
    level = /^\d+$/.test(spec) ? Number(spec) : spec === 'none' ? 0 : -1;
  });
  return level;
}

/** pg_dump's own level: the user's, else ours (-1: compressed by a method we do not parse). */
export function pgDumpCompressionLevel(extraArgs: readonly string[]): number {
  return userCompressionLevel(extraArgs) ?? DEFAULT_PG_DUMP_COMPRESSION;
}

export interface DumpSettings {
  extraArgs: readonly string[];
  /** Absent in plans of older versions: `object`. */
  storage?: DumpStorage | undefined;
}

/**
 * The extra arguments pg_dump runs with: the user's, and `--compress=0` last for a dump stored in
 * chunks (the config refuses another level there; the last option wins, here and in pg_dump).
 */
export function dumpExtraArgs(dump: DumpSettings): readonly string[] {
  if (dump.storage !== 'chunked' || userCompressionLevel(dump.extraArgs) === 0) return dump.extraArgs;
  return [...dump.extraArgs, '--compress=0'];
}

/** What dockvault itself applies to the dump stream: nothing when pg_dump already compressed it. */
export function hostCompressionFor(plan: DumpSettings & { compression: Compression }): Compression {
  return pgDumpCompressionLevel(dumpExtraArgs(plan)) === 0 ? plan.compression : { algorithm: 'none' };
}
