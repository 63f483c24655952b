import type { Command } from '../command.ts';

interface Listed {
  summary: string;
  load(): Promise<Command>;
}

/**
 * Every subcommand, by the name typed on the command line. A command's module is imported only when
 * it runs: the worker's imports alone take over half a second, and `dockvault run` should not pay them.
 */
export const commands: Record<string, Listed> = {
  worker: {
    summary: 'run the worker for this Docker host',
    load: async () => (await import('./worker.ts')).workerCommand,
  },
  health: {
    summary: "exit 0 if this host's worker is connected to Temporal and polling",
    load: async () => (await import('./health.ts')).healthCommand,
  },
  run: {
    summary: 'run backups now and follow their progress',
    load: async () => (await import('./run.ts')).runCommand,
  },
  list: {
    summary: 'list the backups in storage',
    load: async () => (await import('./list.ts')).listCommand,
  },
  restore: {
    summary: 'restore a backup into its volumes (or other volumes)',
    load: async () => (await import('./restore.ts')).restoreCommand,
  },
  verify: {
    summary: 'check that backups can be downloaded, decrypted and read',
    load: async () => (await import('./verify.ts')).verifyCommand,
  },
  prune: {
    summary: 'delete backups the retention policy no longer keeps',
    load: async () => (await import('./prune.ts')).pruneCommand,
  },
  schedules: {
    summary: 'sync the Temporal Schedules with the config, or list them',
    load: async () => (await import('./schedules.ts')).schedulesCommand,
  },
  config: {
    summary: 'check the config file and show the plan, or print its JSON Schema',
    load: async () => (await import('./config.ts')).configCommand,
  },
  keygen: {
    summary: 'generate an age identity (private key) and print its public key',
    load: async () => (await import('./keygen.ts')).keygenCommand,
  },
};
