import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

// Whether a failed activity is retried is decided by its error's class, through `retryable`, and
// nowhere else: the workflows' retry policies list no error types, so renaming a class cannot change
// what is retried. An error without `retryable` (a bug, a library's plain Error) is retried.

/** A problem retrying cannot fix (bad input, missing container); the workflow fails at once. */
export class PreflightError extends Error {
  override name = 'PreflightError';
  readonly retryable = false;
}

/** A pre-stop hook failed: the run stops before any container is stopped. */
export class HookFailedError extends Error {
  override name = 'HookFailedError';
  readonly retryable = false;
}

/** A container did not come back (or not for long); retried for minutes, then the reconciler takes over. */
export class ContainerRestartError extends Error {
  override name = 'ContainerRestartError';
  readonly retryable = true;
}

/** A container came back while its volumes were read: the archive may be inconsistent, the run fails. */
export class ContainerRestartedDuringBackupError extends Error {
  override name = 'ContainerRestartedDuringBackupError';
  readonly retryable = false;
}

/**
 * An activity's error as Temporal sees it: one that says `retryable: false` fails the activity without
 * retries, under its own type name, so the workflow and the UI show the cause; others are retried
 * under the activity's retry policy.
 */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof Error && (err as { retryable?: unknown }).retryable === false) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.name,
      nonRetryable: true,
      cause: err,
    });
  }
  return err;
}

/** Applies toActivityFailure to whatever any activity of the worker throws. */
export const typedFailures: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  },
});
