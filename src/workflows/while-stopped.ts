import { CancellationScope } from '@temporalio/workflow';

/**
 * Calls to activities that run while containers are stopped. A cancellation returns from the call at
 * once, so the restart never waits for the activity to notice it; `settled()` then waits until the
 * activity has really stopped (its activity options wait for the cancellation to complete), so the
 * clean-up that follows does not race its last writes: a multipart upload created after the
 * clean-up listed them, a staging file written after it was removed.
 */
export class WhileStopped {
  readonly #running: Promise<unknown>[] = [];

  call<T>(activity: () => Promise<T>): Promise<T> {
    const done = activity();
    this.#running.push(done.catch(() => undefined));
    return Promise.race([done, CancellationScope.current().cancelRequested]);
  }

  async settled(): Promise<void> {
    await Promise.all(this.#running);
  }
}
