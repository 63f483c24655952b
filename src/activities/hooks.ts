import type Docker from 'dockerode';
import { Context, log } from '@temporalio/activity';
import { execCapture } from '../docker/exec.ts';
import type { HookPlan } from '../plan/types.ts';
import { HookFailedError } from './failure.ts';
import { checkpointHeartbeat } from './heartbeat.ts';

/** Where a retried attempt of `runHooks` goes on: hooks before `done` finished in an earlier attempt. */
interface HookCheckpoint {
  done: number;
  warnings: string[];
}

function resumeFrom(details: unknown): HookCheckpoint {
  const d = details as Partial<HookCheckpoint> | undefined;
  return typeof d?.done === 'number' && Array.isArray(d.warnings)
    ? { done: d.done, warnings: d.warnings }
    : { done: 0, warnings: [] };
}

/**
 * Runs the hooks in order. Each finished hook is checkpointed in the heartbeat, so an attempt that is
 * retried (its worker died, or it outlived the activity's bound) goes on after the last finished
 * hook instead of running them again: a hook such as "flush and rotate" must not run twice. Only the
 * hook that was running when an attempt died runs again, since nobody knows whether it finished.
 */
export async function runHooksOnce(
  docker: Docker,
  hooks: HookPlan[],
  stage: 'preStop' | 'postStart',
): Promise<string[]> {
  const { done, warnings } = resumeFrom(Context.current().info.heartbeatDetails);
  if (done > 0) log.info('resuming hooks after the ones an earlier attempt finished', { stage, done });
  for (let i = done; i < hooks.length; i++) {
    const hook = hooks[i]!;
    const result = await execCapture(docker, hook.container, hook.command, {
      user: hook.user,
      timeoutMs: hook.timeoutSeconds * 1000,
    }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }));
    if (result.exitCode !== 0) {
      const message = `${stage} hook in ${hook.container} (${hook.command.join(' ')}) failed with exit code ${result.exitCode}: ${result.stderr.trim().slice(-500)}`;
      if (stage === 'preStop') throw new HookFailedError(message);
      log.warn(message);
      warnings.push(message);
    }
    checkpointHeartbeat({ done: i + 1, warnings } satisfies HookCheckpoint);
  }
  return warnings;
}
