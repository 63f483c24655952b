import { ApplicationFailure, CancellationScope, isCancellation, sleep } from '@temporalio/workflow';

/** Turns the cancellation a passed deadline caused into the error that says so; anything else as is. */
export type ExplainFailure = (err: unknown) => unknown;

/**
 * A definition's `timeoutMinutes`. When it passes, the run is cancelled from inside, so its own
 * clean-up still runs (containers restarted, partial objects removed) and it fails with an error
 * that names the limit. A workflow execution timeout would end it on the server with none of that,
 * leaving stopped containers to the reconciler.
 */
export async function withRunDeadline<T>(
  plan: { definition: string; timeoutMinutes?: number | undefined },
  run: (explain: ExplainFailure) => Promise<T>,
): Promise<T> {
  const minutes = plan.timeoutMinutes;
  if (minutes === undefined) return run((err) => err);
  let timedOut = false;
  const explain: ExplainFailure = (err) =>
    timedOut && isCancellation(err)
      ? ApplicationFailure.create({
          type: 'RunTimeoutError',
          message: `${plan.definition}: the run took longer than its timeoutMinutes (${minutes}) and was stopped`,
          nonRetryable: true,
          cause: err as Error,
        })
      : err;
  const body = new CancellationScope();
  const timer = new CancellationScope();
  void timer
    .run(() => sleep(minutes * 60_000))
    .then(
      () => {
        timedOut = true;
        body.cancel();
      },
      () => undefined,
    );
  try {
    return await body.run(() => run(explain));
  } finally {
    timer.cancel();
  }
}
