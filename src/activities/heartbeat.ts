import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

export interface TransferProgress {
  phase: string;
  subject: string;
  bytes: number;
  totalBytes?: number | undefined;
  bytesPerSecond: number;
}

/** How often every activity tells Temporal its worker is alive. */
const BEAT_MS = 1000;

/** What an activity's next heartbeat carries: its latest progress, if it reports any. */
const detailsOf = new WeakMap<Context, () => unknown>();

/**
 * Every activity of the host worker heartbeats on a timer while it runs, whatever it does: a worker
 * SIGKILLed in the middle of a container stop is noticed after the heartbeat timeout (seconds), not
 * after the start-to-close timeout (minutes) while the application stays stopped. The beat carries
 * the progress the activity registered with `progressHeartbeat`, so the CLI and the Web UI keep
 * showing it, and it is what brings a cancellation into the activity.
 */
export const livenessHeartbeat: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const timer = setInterval(() => ctx.heartbeat(detailsOf.get(ctx)?.()), BEAT_MS);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  },
});

/**
 * Byte progress for the liveness heartbeat to carry. It is sampled on the beat, not sent per chunk,
 * so a slow phase with no new bytes (tar walking many small files) is not mistaken for a dead worker.
 */
export function progressHeartbeat(phase: string, subject: string, totalBytes?: number) {
  const context = Context.current();
  const started = Date.now();
  let bytes = 0;
  const details = (): TransferProgress => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    return { phase, subject, bytes, totalBytes, bytesPerSecond: bytes / seconds };
  };
  detailsOf.set(context, details);
  context.heartbeat(details());
  return {
    update: (now: number) => {
      bytes = now;
    },
    stop: () => {
      context.heartbeat(details());
    },
    signal: context.cancellationSignal,
  };
}

/**
 * What a retried attempt resumes from: carried by every later beat of this attempt, so the server
 * holds the newest checkpoint when the attempt dies or times out, and the next attempt reads it from
 * `Context.current().info.heartbeatDetails`.
 */
export function checkpointHeartbeat(details: unknown) {
  const context = Context.current();
  detailsOf.set(context, () => details);
  context.heartbeat(details);
}
