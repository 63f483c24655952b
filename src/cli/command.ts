import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { configOption } from './load-config.ts';

/** A CLI subcommand: parses its own arguments and returns the process exit code. */
export interface Command {
  run(argv: string[]): Promise<number>;
}

/** Thrown for bad flags or arguments; the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const commonOptions = {
  ...configOption,
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * A command's flags and names, with --config and --help besides its own `options`; undefined once
 * --help printed the command's `help`.
 */
export function parseCommandArgs<T extends ParseArgsOptionsConfig>(argv: string[], help: string, options: T) {
  const parsed = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...commonOptions, ...options },
  });
  if ((parsed.values as { help?: boolean }).help) {
    console.log(help);
    return undefined;
  }
  return parsed;
}
