import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { livenessHeartbeat } from './activities/heartbeat.ts';
import { typedFailures } from './activities/failure.ts';
import { createHostActivities } from './activities/index.ts';
import { createNotifyActivities } from './activities/notify.ts';
import type { NotifySettings } from './activities/notify.ts';
import { cachedStores } from './activities/stores.ts';
import { createDockerClient } from './docker/client.ts';
import { StoppedRecord } from './docker/stopped-record.ts';
import { loadDedupKey } from './storage/dedup-key.ts';
import { writeHealthReport } from './health/health-file.ts';
import { runHealthChecks } from './health/worker-health.ts';
import { BackupMetrics } from './metrics/backup-metrics.ts';
import { startMetricsServer } from './metrics/server.ts';
import { runStaleChecks, type WatchedDefinition } from './notify/stale.ts';
import { closedRunsVia } from './closed-runs.ts';
import { startReconciler } from './reconciler.ts';
import { registerSearchAttributes } from './register-search-attributes.ts';
import { buildWorkflowBundle } from './workflow-bundle.ts';
import type { TemporalSettings } from './config/index.ts';
import { temporalConnector } from './temporal/connect.ts';
import { createMainThreadWorkflowWorker } from './temporal/workflows-in-main-thread.ts';

export interface WorkerSettings {
  /**
   * Address, namespace, TLS and API key (one connection setup with the CLI, src/temporal/), and
   * `taskQueue`: the queue of the workflows, shared by every host.
   */
  temporal: TemporalSettings;
  /** Queue of this host's Docker and data activities. */
  hostTaskQueue: string;
  stateDir: string;
  reconcileIntervalMs: number;
  /** How often the worker checks that it is connected and polling (the health report). */
  healthCheckIntervalMs?: number;
  /** `--metrics`: our series on `address`, the Temporal SDK's exporter on `temporalAddress`. */
  metrics?: { address: string; temporalAddress: string } | undefined;
  /** Webhooks of this worker's config, and this host's definitions for the stale check. */
  alerts?: { notify: NotifySettings; definitions: WatchedDefinition[]; staleCheckIntervalMs: number };
}

/**
 * One process per Docker host: it runs workflows (any worker may), this host's activities, and the
 * reconciler that restarts containers left stopped by workflows that no longer run.
 */
export async function runWorker(settings: WorkerSettings): Promise<void> {
  const docker = createDockerClient();
  const stopped = new StoppedRecord(settings.stateDir);
  const storeFor = cachedStores();
  const metrics = settings.metrics ? new BackupMetrics() : undefined;
  if (settings.metrics) {
    // Must precede every connection: the SDK's runtime is created once, with its exporter.
    Runtime.install({
      telemetryOptions: { metrics: { prometheus: { bindAddress: settings.metrics.temporalAddress } } },
    });
  }
  const metricsServer =
    settings.metrics && metrics
      ? await startMetricsServer({
          address: settings.metrics.address,
          temporalAddress: settings.metrics.temporalAddress,
          render: () => metrics.registry.metrics(),
        })
      : undefined;
  await mkdir(settings.stateDir, { recursive: true });
  await writeHealthReport(settings.stateDir, { healthy: false, detail: 'the worker is starting' });
  const { namespace, taskQueue } = settings.temporal;
  const temporal = await temporalConnector(settings.temporal);
  const connection = await temporal.connect((options) => NativeConnection.connect(options));
  const clientConnection = await temporal.connect((options) => Connection.connect(options));
  const client = new Client({ connection: clientConnection, namespace });
  const closedRuns = closedRunsVia(client);
  // One identity for both workers, so the health check finds this process among each queue's pollers.
  const identity = `${process.pid}@${hostname()}`;
  try {
    await registerSearchAttributes(clientConnection, namespace, (m) => console.log(m));
    const workflowWorker = await createMainThreadWorkflowWorker({
      connection,
      identity,
      namespace,
      taskQueue,
      workflowBundle: { codePath: await buildWorkflowBundle(join(settings.stateDir, 'bundle')) },
      // Alerts about a host whose own worker is absent are sent by any worker that runs workflows.
      activities: createNotifyActivities({ settings: settings.alerts?.notify }),
    });
    const activityWorker = await Worker.create({
      connection,
      identity,
      namespace,
      taskQueue: settings.hostTaskQueue,
      interceptors: { activity: [livenessHeartbeat, typedFailures] },
      // Beats reach Temporal within 2 s: a cancellation reaches the activity, and progress the UI, that fast.
      maxHeartbeatThrottleInterval: '2 seconds',
      activities: createHostActivities({
        docker,
        stopped,
        closedRuns,
        storeFor,
        notify: { settings: settings.alerts?.notify, metrics },
        dedupKey: () => loadDedupKey(settings.stateDir),
        stateDir: settings.stateDir,
      }),
    });
    const stopReconciler = new AbortController();
    const reconciling = startReconciler(
      { docker, stopped, closedRuns, log: (m) => console.log(m) },
      settings.reconcileIntervalMs,
      stopReconciler.signal,
    );
    const alerts = settings.alerts;
    const staleChecking =
      alerts && (metrics || alerts.notify.webhooks.some((w) => w.on.includes('stale')))
        ? runStaleChecks(
            {
              definitions: alerts.definitions,
              webhooks: alerts.notify.webhooks,
              storeFor,
              metrics,
              log: (m) => console.log(m),
            },
            alerts.staleCheckIntervalMs,
            stopReconciler.signal,
          )
        : Promise.resolve();
    const healthChecking = runHealthChecks(
      {
        client,
        namespace,
        identity,
        stateDir: settings.stateDir,
        workers: [
          { worker: workflowWorker, taskQueue, kind: 'workflow' },
          { worker: activityWorker, taskQueue: settings.hostTaskQueue, kind: 'activity' },
        ],
        log: (m) => console.log(m),
      },
      settings.healthCheckIntervalMs ?? 10_000,
      stopReconciler.signal,
    );
    if (metricsServer) {
      console.log(
        `dockvault metrics: http://${metricsServer.address}/metrics (Temporal SDK exporter on ${settings.metrics?.temporalAddress})`,
      );
    }
    console.log(
      `dockvault worker: workflows on "${taskQueue}", activities on "${settings.hostTaskQueue}", ` +
        `state in ${settings.stateDir}, Temporal ${settings.temporal.address} ` +
        `(${temporal.description})`,
    );
    try {
      const workers = [workflowWorker, activityWorker];
      // If one worker dies the process must not linger half-alive: stop the other too.
      await Promise.all(
        workers.map((worker) =>
          worker.run().catch((err: unknown) => {
            for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
            throw err;
          }),
        ),
      );
    } finally {
      stopReconciler.abort();
      await reconciling;
      await staleChecking;
      await healthChecking;
    }
  } finally {
    await metricsServer?.close();
    await clientConnection.close();
    await connection.close();
  }
}
