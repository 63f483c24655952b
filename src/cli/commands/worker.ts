import { parseArgs } from 'node:util';
import { hostTaskQueue } from '../../config/index.ts';
import { parseDurationFlag } from '../duration.ts';
import { runWorker } from '../../worker.ts';
import type { Command } from '../command.ts';
import { configOption, loadCliConfig } from '../load-config.ts';

const help = `Usage: dockvault worker [--config FILE] [--host NAME] [--state-dir DIR] [--reconcile-interval 1m]

Runs the workflows, this host's Docker and data activities (queue dockvault.<host>) and the reconciler
that restarts containers left stopped by workflows that no longer run. Secrets (S3 credentials) come
from this process's environment or the AWS credential chain.`;

export const workerCommand: Command = {
  summary: 'run the worker for this Docker host',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        ...configOption,
        host: { type: 'string' },
        'state-dir': { type: 'string' },
        'reconcile-interval': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    const config = await loadCliConfig(values.config);
    const host = values.host ?? config.host;
    await runWorker({
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      hostTaskQueue: hostTaskQueue(host),
      stateDir: values['state-dir'] ?? process.env.DOCKVAULT_STATE_DIR ?? '/var/lib/dockvault/state',
      reconcileIntervalMs: parseDurationFlag(values['reconcile-interval'] ?? '1m', '--reconcile-interval'),
    });
    return 0;
  },
};
