import type Docker from 'dockerode';
import { Context, log } from '@temporalio/activity';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type ContainerState,
  inspectContainer,
  startContainer,
  stopContainer,
} from '../docker/containers.ts';
import { flushEngineFilesystem } from '../docker/engine-sync.ts';
import { ContainerNotFoundError, VolumeNotFoundError } from '../docker/errors.ts';
import { estimateVolumeSize, inspectVolume } from '../docker/volumes.ts';
import type { StoppedRecord } from '../docker/stopped-record.ts';
import type { ClosedRuns } from '../closed-runs.ts';
import type { HookPlan } from '../plan/types.ts';
import { ContainerRestartError, ContainerRestartedDuringBackupError, PreflightError } from './failure.ts';
import { laterOpenOwner, leftByClosedRun, takeOverFromClosedRuns } from './adopt.ts';
import { runHooksOnce } from './hooks.ts';
import { type ResolveInput, resolveSources } from '../selectors/resolve.ts';
import type { ResolvedSources } from '../selectors/types.ts';

/** How long a restarted container must stay up to count as restarted. */
const SETTLE_MS = 1500;

export interface ContainerActivityDeps {
  docker: Docker;
  stopped: StoppedRecord;
  closedRuns: ClosedRuns;
}

export interface BackupSources {
  /** Listed containers that are running now, in the listed (stop) order. */
  running: string[];
  notRunning: string[];
  volumeBytes: number;
}

/** Activities over one Docker engine: what exists, stop, start, hooks. */
export function createContainerActivities({ docker, stopped, closedRuns }: ContainerActivityDeps) {
  /** Removed by someone while stopped: there is nothing left to start. */
  const forgetRemoved = async (container: string, workflowId: string) => {
    await stopped.remove(container, workflowId);
    log.warn('container removed while stopped', { container });
  };

  /** Starts a container for `workflowId` unless a later, open run stopped it since: then it is that run's. */
  const startUnlessTaken = (container: string, workflowId: string, start: () => Promise<void>) =>
    stopped.exclusive(container, async () => {
      const owner = await laterOpenOwner(stopped, closedRuns, container, { workflowId });
      if (!owner) return start();
      log.warn('container not started: a later run stopped it and restarts it', {
        container,
        owner: owner.workflowId,
      });
      await stopped.remove(container, workflowId);
    });

  return {
    /** Preflight, first step for selector definitions: what compose and labels select here, in stop order. */
    async resolveBackupSources(input: ResolveInput): Promise<ResolvedSources> {
      const resolved = await resolveSources(docker, input);
      log.info('resolved selector', {
        definition: input.definition,
        containers: resolved.containers.map((c) => c.name),
        volumes: resolved.volumes.map((v) => v.resolved),
      });
      return resolved;
    },

    /**
     * Preflight: every container and volume exists; nothing is changed. All problems in one error.
     * A container a terminated run left stopped counts as running: this run stops and restarts it.
     */
    async inspectBackupSources(input: { containers: string[]; volumes: string[] }): Promise<BackupSources> {
      const problems: string[] = [];
      const running: string[] = [];
      const notRunning: string[] = [];
      // Run outside a workflow (a test), nothing is anyone's own.
      const self = Context.current().info.workflowExecution ?? { workflowId: '', runId: '' };
      for (const name of input.containers) {
        try {
          const adopted = await stopped.exclusive(name, async () => {
            if ((await inspectContainer(docker, name)).running) return true;
            const left = await leftByClosedRun(stopped, closedRuns, name, self);
            if (left.length > 0) {
              log.info('adopting a container a closed run left stopped', {
                container: name,
                stoppedBy: left.map((e) => e.workflowId),
              });
            }
            return left.length > 0;
          });
          (adopted ? running : notRunning).push(name);
        } catch (err) {
          if (!(err instanceof ContainerNotFoundError)) throw err;
          problems.push(`container "${name}" does not exist`);
        }
      }
      let volumeBytes = 0;
      for (const name of input.volumes) {
        try {
          await inspectVolume(docker, name);
          volumeBytes += await estimateVolumeSize(docker, name);
        } catch (err) {
          if (!(err instanceof VolumeNotFoundError)) throw err;
          problems.push(`volume "${name}" does not exist`);
        }
      }
      if (problems.length > 0) {
        throw new PreflightError(`preflight failed, nothing was stopped: ${problems.join('; ')}`);
      }
      return { running, notRunning, volumeBytes };
    },

    async stopContainer(input: {
      container: string;
      timeoutSeconds: number;
      workflowId: string;
      runId: string;
    }): Promise<void> {
      await flushEngineFilesystem(docker);
      const state = await inspectContainer(docker, input.container);
      await stopped.exclusive(input.container, async () => {
        await stopped.add({
          container: input.container,
          containerId: state.id,
          workflowId: input.workflowId,
          runId: input.runId,
          stoppedAt: new Date().toISOString(),
        });
        await stopContainer(docker, input.container, input.timeoutSeconds);
        const taken = await takeOverFromClosedRuns(stopped, closedRuns, input.container, input);
        if (taken.length > 0) {
          log.info('took over a container from closed runs', {
            container: input.container,
            from: taken.map((e) => e.workflowId),
          });
        }
      });
      log.info('stopped container', { container: input.container });
    },

    /**
     * Starts every given container in order, trying all of them even when one fails. Downtime ends
     * when the last start returned; `confirmRestarted` checks a moment later that they stayed up.
     */
    async startContainers(input: {
      containers: string[];
      workflowId: string;
    }): Promise<{ downtimeMs: number }> {
      const entries = (await stopped.list()).filter((e) => e.workflowId === input.workflowId);
      const failures: string[] = [];
      for (const container of input.containers) {
        try {
          await startUnlessTaken(container, input.workflowId, () =>
            startContainer(docker, container, { waitMs: 0 }),
          );
        } catch (err) {
          if (err instanceof ContainerNotFoundError) {
            await forgetRemoved(container, input.workflowId);
            continue;
          }
          failures.push(`${container}: ${(err as Error).message}`);
        }
      }
      if (failures.length > 0) {
        throw new ContainerRestartError(`could not restart: ${failures.join('; ')}`);
      }
      const firstStop = Math.min(...entries.map((e) => Date.parse(e.stoppedAt)));
      return { downtimeMs: Number.isFinite(firstStop) ? Math.max(Date.now() - firstStop, 0) : 0 };
    },

    /**
     * A crash loop is no restart: a moment after `startContainers`, every container must still be
     * running. One that exited is started again and the activity fails, so its retry checks again;
     * a container leaves the stopped record (the reconciler's work list) only once it stayed up.
     */
    async confirmRestarted(input: { containers: string[]; workflowId: string }): Promise<void> {
      await delay(SETTLE_MS);
      const failures: string[] = [];
      for (const container of input.containers) {
        let state: ContainerState;
        try {
          state = await inspectContainer(docker, container);
        } catch (err) {
          if (!(err instanceof ContainerNotFoundError)) throw err;
          await forgetRemoved(container, input.workflowId);
          continue;
        }
        if (state.running) {
          await stopped.remove(container, input.workflowId);
          log.info('started container', { container });
          continue;
        }
        await startUnlessTaken(container, input.workflowId, async () => {
          failures.push(`${container}: exited again right after it was started (status ${state.status})`);
          await startContainer(docker, container, { waitMs: 0 }).catch((err: Error) => {
            failures.push(`${container}: ${err.message}`);
          });
        });
      }
      if (failures.length > 0) {
        throw new ContainerRestartError(`could not restart: ${failures.join('; ')}`);
      }
    },

    /** Catches a container that came back (restart policy, another tool) while its volumes were read. */
    async checkStillStopped(containers: string[]): Promise<void> {
      const back: string[] = [];
      for (const name of containers) {
        if ((await inspectContainer(docker, name)).running) back.push(name);
      }
      if (back.length > 0) {
        throw new ContainerRestartedDuringBackupError(
          `container(s) ${back.join(', ')} started again while their volumes were being archived ` +
            '(a restart policy or another tool); the archive may be inconsistent and was discarded',
        );
      }
    },

    /** Pre-stop hooks must all succeed (else the run aborts before any stop); post-start failures are warnings. */
    runHooks: (hooks: HookPlan[], stage: 'preStop' | 'postStart'): Promise<string[]> =>
      runHooksOnce(docker, hooks, stage),
  };
}

export type ContainerActivities = ReturnType<typeof createContainerActivities>;
