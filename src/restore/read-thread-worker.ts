// The thread of readBackupObjectInThread: the same readIntoCommand as on the calling thread, with its
// own S3 client, into the reader command's pipe; it reports progress, then its result or its error.
import { parentPort, workerData } from 'node:worker_threads';
import { createS3Store } from '../storage/s3-store.ts';
import { readIntoCommand, type ReadThreadInput, type ReadThreadMessage } from './read-thread.ts';

/** Progress is posted at most every this many bytes: a message per chunk would cost more than it tells. */
const PROGRESS_STEP = 4 * 1024 * 1024;

const input = workerData as ReadThreadInput;
const port = parentPort!;
const controller = new AbortController();
port.on('message', (m: unknown) => {
  if (m === 'abort') controller.abort();
});

function post(message: ReadThreadMessage): void {
  port.postMessage(message);
}

const store = createS3Store(input.target);
let reported = 0;
try {
  const { storedBytes } = await readIntoCommand(
    store,
    input,
    controller.signal,
    (bytes) => {
      if (bytes - reported < PROGRESS_STEP) return;
      reported = bytes;
      post({ type: 'progress', storedBytes: bytes });
    },
    // This thread may block on its writes; the calling thread can stop the reader if it must.
    { blocking: true, onSpawn: (pid) => post({ type: 'reader', pid }) },
  );
  post({ type: 'done', storedBytes });
} catch (err) {
  const e = err as Error & {
    retryable?: boolean;
    location?: string;
    key?: string;
    code?: unknown;
    what?: unknown;
  };
  post({
    type: 'failed',
    error: {
      name: e.name,
      message: e.message,
      retryable: e.retryable,
      location: e.location,
      key: e.key,
      code: typeof e.code === 'string' ? e.code : undefined,
      what: typeof e.what === 'string' ? e.what : undefined,
    },
  });
} finally {
  store.destroy();
}
