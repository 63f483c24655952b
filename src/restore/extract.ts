import { readBackupObjectInto, type CommandReadOptions } from './read-thread.ts';

/**
 * GNU tar flags that put back what HOST_TAR_ARGS recorded: numeric owners, modes incl. setuid, xattrs
 * of every namespace, ACLs. Sparse members are extracted sparse without a flag.
 */
const EXTRACT_TAR_ARGS = [
  '--extract',
  '--file=-',
  '--numeric-owner',
  '--same-owner',
  '--same-permissions',
  '--xattrs',
  '--xattrs-include=*',
  '--acls',
];

/**
 * Reads a volume archive from storage into `directory`: get -> sha256 -> decrypt -> decompress -> tar -x,
 * a large archive in a thread of its own. The caller owns the directory and discards it when this throws.
 */
export function extractVolumeArchive(
  opts: Omit<CommandReadOptions, 'reader' | 'what'> & { directory: string },
): Promise<{ storedBytes: number }> {
  const { directory, ...read } = opts;
  return readBackupObjectInto({
    ...read,
    reader: ['tar', ...EXTRACT_TAR_ARGS, `--directory=${directory}`],
    what: `extracting ${opts.key}`,
  });
}
