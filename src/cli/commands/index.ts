import type { Command } from '../command.ts';

/** Every subcommand, by the name typed on the command line. */
export const commands: Record<string, Command> = {};
