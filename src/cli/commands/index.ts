import type { Command } from '../command.ts';
import { configCommand } from './config.ts';
import { keygenCommand } from './keygen.ts';
import { listCommand } from './list.ts';
import { pruneCommand } from './prune.ts';
import { restoreCommand } from './restore.ts';
import { runCommand } from './run.ts';
import { schedulesCommand } from './schedules.ts';
import { verifyCommand } from './verify.ts';
import { workerCommand } from './worker.ts';

/** Every subcommand, by the name typed on the command line. */
export const commands: Record<string, Command> = {
  worker: workerCommand,
  run: runCommand,
  list: listCommand,
  restore: restoreCommand,
  verify: verifyCommand,
  prune: pruneCommand,
  schedules: schedulesCommand,
  config: configCommand,
  keygen: keygenCommand,
};
