import { hostname } from 'node:os';

/** The first step of a backup on its host: answered at once by whichever worker serves the host's queue. */
export function createHostPresenceActivities() {
  return {
    hostWorkerPresent(): Promise<{ worker: string }> {
      return Promise.resolve({ worker: `${hostname()}:${process.pid}` });
    },
  };
}

export type HostPresenceActivities = ReturnType<typeof createHostPresenceActivities>;
