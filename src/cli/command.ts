/** A CLI subcommand: parses its own arguments and returns the process exit code. */
export interface Command {
  run(argv: string[]): Promise<number>;
}

/** Thrown for bad flags or arguments; the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
