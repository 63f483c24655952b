import { parseArgs } from 'node:util';
import { hostTaskQueue } from '../../config/index.ts';
import { nextPortAddress, parseListenAddress } from '../../metrics/server.ts';
import { buildPlan } from '../../plan/build.ts';
import { UsageError } from '../command.ts';
import { parseDurationFlag } from '../duration.ts';
import { runWorker } from '../../worker.ts';
import type { Command } from '../command.ts';
import { configOption, loadCliConfig } from '../load-config.ts';
import { resolveStateDir, stateDirOption } from '../state-dir.ts';

// A few seconds: a container a terminated run left stopped runs again well within 15 s. A tick with an
// empty record reads one small file and asks Temporal nothing (see reconcileStoppedContainers).
export const DEFAULT_RECONCILE_INTERVAL = '5s';

const help = `Usage: dockvault worker [--config FILE] [--host NAME] [--state-dir DIR] [--reconcile-interval 5s]
                        [--metrics HOST:PORT [--temporal-metrics HOST:PORT]] [--stale-check-interval 1m]

Runs the workflows, this host's Docker and data activities (queue dockvault.<host>) and the reconciler
that restarts containers left stopped by workflows that no longer run. Secrets (S3 credentials) come
from this process's environment or the AWS credential chain.

--host NAME (default: the config's host) says which definitions' Docker steps this worker takes. Run
one worker per Docker host, on that host, as root; it uses the engine DOCKER_HOST names (e.g.
unix:///run/docker-b.sock), else /var/run/docker.sock.

--metrics 127.0.0.1:9464 serves Prometheus metrics at /metrics: dockvault's per-definition series and,
appended, the Temporal SDK's worker metrics, whose own exporter listens on --temporal-metrics (default:
the next port). Webhooks (notifications.webhooks) are sent by this worker; "stale" webhooks are
checked every --stale-check-interval for this host's definitions.`;

/**
 * Memory settings of the long-running worker, which only the process's own start can give: V8 grows its
 * young generation to 64 MB once start-up has allocated enough, and glibc keeps a malloc arena per thread
 * that ever allocated (zstd, Temporal's core, V8's helpers). Measured on an idle worker: 240 MB -> 190 MB;
 * backups ran no slower (their buffers live outside the JS heap).
 */
const WORKER_V8_FLAGS = ['--max-semi-space-size=1'];
const WORKER_ENV = { MALLOC_ARENA_MAX: '2' };

/** Replaces this process (same pid, nothing started yet) with one that has the settings above. */
function execWithMemorySettings(): void {
  const missing = WORKER_V8_FLAGS.filter(
    (flag) => !process.execArgv.some((arg) => arg.startsWith(flag.split('=')[0]!)),
  );
  if (missing.length === 0 || !process.execve) return;
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...missing, ...process.argv.slice(1)],
    { ...WORKER_ENV, ...process.env },
  );
}

export const workerCommand: Command = {
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        ...configOption,
        host: { type: 'string' },
        ...stateDirOption,
        'reconcile-interval': { type: 'string' },
        metrics: { type: 'string' },
        'temporal-metrics': { type: 'string' },
        'stale-check-interval': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    const config = await loadCliConfig(values.config);
    execWithMemorySettings();
    const host = values.host ?? config.host;
    const metricsAddress = values.metrics;
    if (values['temporal-metrics'] && !metricsAddress)
      throw new UsageError('--temporal-metrics needs --metrics');
    for (const flag of ['metrics', 'temporal-metrics'] as const) {
      const text = values[flag];
      if (text === undefined) continue;
      try {
        parseListenAddress(text);
      } catch (err) {
        throw new UsageError(`--${flag}: ${(err as Error).message}`);
      }
    }
    await runWorker({
      temporal: config.temporal,
      hostTaskQueue: hostTaskQueue(host),
      stateDir: resolveStateDir(values['state-dir']),
      reconcileIntervalMs: parseDurationFlag(
        values['reconcile-interval'] ?? DEFAULT_RECONCILE_INTERVAL,
        '--reconcile-interval',
      ),
      metrics: metricsAddress
        ? {
            address: metricsAddress,
            temporalAddress: values['temporal-metrics'] ?? nextPortAddress(metricsAddress),
          }
        : undefined,
      alerts: {
        notify: {
          webhooks: config.notifications.webhooks,
          uiUrl: config.temporal.uiUrl,
          namespace: config.temporal.namespace,
        },
        definitions: config.backupDefinitions
          .filter((def) => def.host === host)
          .map((def) => ({
            definition: def.name,
            type: def.type,
            host: def.host,
            target: buildPlan(config, def).target,
          })),
        staleCheckIntervalMs: parseDurationFlag(
          values['stale-check-interval'] ?? '1m',
          '--stale-check-interval',
        ),
      },
    });
    return 0;
  },
};
