import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createHostActivities } from './activities/index.ts';
import { createDockerClient } from './docker/client.ts';
import { StoppedRecord } from './docker/stopped-record.ts';
import { startReconciler } from './reconciler.ts';
import { buildWorkflowBundle } from './workflow-bundle.ts';

export interface WorkerSettings {
  address: string;
  namespace: string;
  /** Queue of the workflows, shared by every host. */
  taskQueue: string;
  /** Queue of this host's Docker and data activities. */
  hostTaskQueue: string;
  stateDir: string;
  reconcileIntervalMs: number;
}

/**
 * One process per Docker host: it runs workflows (any worker may), this host's activities, and the
 * reconciler that restarts containers left stopped by workflows that no longer run.
 */
export async function runWorker(settings: WorkerSettings): Promise<void> {
  const docker = createDockerClient();
  const stopped = new StoppedRecord(settings.stateDir);
  const connection = await NativeConnection.connect({ address: settings.address });
  const clientConnection = await Connection.connect({ address: settings.address });
  const client = new Client({ connection: clientConnection, namespace: settings.namespace });
  try {
    const workflowWorker = await Worker.create({
      connection,
      namespace: settings.namespace,
      taskQueue: settings.taskQueue,
      workflowBundle: { codePath: await buildWorkflowBundle(join(settings.stateDir, 'bundle')) },
    });
    const activityWorker = await Worker.create({
      connection,
      namespace: settings.namespace,
      taskQueue: settings.hostTaskQueue,
      activities: createHostActivities({ docker, stopped }),
    });
    const stopReconciler = new AbortController();
    const reconciling = startReconciler(
      { docker, stopped, client, log: (m) => console.log(m) },
      settings.reconcileIntervalMs,
      stopReconciler.signal,
    );
    console.log(
      `dockvault worker: workflows on "${settings.taskQueue}", activities on "${settings.hostTaskQueue}", ` +
        `state in ${settings.stateDir}, Temporal ${settings.address}`,
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
    }
  } finally {
    await clientConnection.close();
    await connection.close();
  }
}
