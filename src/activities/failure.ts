import { ApplicationFailure } from '@temporalio/activity';

/** A problem retrying cannot fix (bad input, missing container); the workflow fails at once. */
export class PreflightError extends Error {
  override name = 'PreflightError';
  readonly retryable = false;
}

/**
 * Turns the adapters' typed errors into Temporal failures: errors that say `retryable: false` fail
 * the activity without retries, under their own type name, so the workflow and the UI show the cause.
 */
function toFailure(err: unknown): unknown {
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

type AsyncFunctions = Record<string, (...args: never[]) => Promise<unknown>>;

/** Applies toFailure to every activity of a factory's result. */
export function mapFailures<T extends AsyncFunctions>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toFailure(err);
      }
    };
  }
  return wrapped as T;
}
