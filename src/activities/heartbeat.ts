import { Context } from '@temporalio/activity';

export interface TransferProgress {
  phase: string;
  subject: string;
  bytes: number;
  totalBytes?: number | undefined;
  bytesPerSecond: number;
}

/**
 * Heartbeats byte progress every second: the heartbeat tells Temporal the worker is alive (a killed
 * worker's attempt is retried elsewhere), carries cancellation back in, and its details are the
 * progress the CLI and the Web UI show. It beats on a timer, not per chunk, so a slow phase with no
 * new bytes (tar walking many small files) is not mistaken for a dead worker.
 */
export function progressHeartbeat(phase: string, subject: string, totalBytes?: number) {
  const context = Context.current();
  const started = Date.now();
  let bytes = 0;
  const beat = () => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const details: TransferProgress = { phase, subject, bytes, totalBytes, bytesPerSecond: bytes / seconds };
    context.heartbeat(details);
  };
  beat();
  const timer = setInterval(beat, 1000);
  return {
    update: (now: number) => {
      bytes = now;
    },
    stop: () => {
      clearInterval(timer);
      beat();
    },
    signal: context.cancellationSignal,
  };
}
