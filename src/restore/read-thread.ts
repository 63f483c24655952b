import { Worker } from 'node:worker_threads';
import type { CompressionAlgorithm } from '../pipeline/compression.ts';
import type { ManifestObject } from '../storage/manifest.ts';
import {
  type BackupStore,
  BucketNotFoundError,
  CorruptManifestError,
  CorruptObjectError,
  ObjectIntegrityError,
  ObjectNotFoundError,
  StorageAccessError,
  StorageError,
  StorageUnreachableError,
  type S3Target,
} from '../storage/store.ts';
import { readerSink } from './child-sink.ts';
import { CorruptBackupObjectError, ReaderFailedError, RestoreError } from './errors.ts';
import { IdentityFileError, loadIdentities } from './identity.ts';
import { readBackupObject } from './read-object.ts';

export interface CommandReadOptions {
  /** Where the object is: `store` reads it on this thread, `target` describes it to a reading thread. */
  store: BackupStore;
  target: S3Target;
  /** The object's key in the store, which is also how messages name it. */
  key: string;
  object: ManifestObject;
  compression: CompressionAlgorithm;
  /** The age identity file (a path: a reading thread reads the key itself). */
  identityFile: string;
  /** The command that reads the decompressed plaintext on its stdin: tar -x, tar --list, pg_restore. */
  reader: string[];
  /** What the reader does, for its error messages ("extracting <key>"). */
  what: string;
  signal?: AbortSignal | undefined;
  onProgress?: ((storedBytes: number) => void) | undefined;
}

/** What a reading thread is started with: names and paths, never key material. */
export type ReadThreadInput = Omit<CommandReadOptions, 'store' | 'signal' | 'onProgress'>;

/** An error as it crosses the thread boundary: structured clone keeps neither its class nor its fields. */
export interface ThreadFailure {
  name: string;
  message: string;
  retryable?: boolean | undefined;
  location?: string | undefined;
  key?: string | undefined;
  code?: string | undefined;
  what?: string | undefined;
}

export type ReadThreadMessage =
  | { type: 'reader'; pid: number }
  | { type: 'progress'; storedBytes: number }
  | { type: 'done'; storedBytes: number }
  | { type: 'failed'; error: ThreadFailure };

/**
 * Objects at least this large are read in a thread of their own; a smaller one is read here, sooner
 * than a thread would have loaded the S3 client (~0.4 s of CPU).
 */
const THREAD_MIN_BYTES = 64 * 1024 * 1024;

const restoreErrors: Record<string, new (message: string) => RestoreError> = {
  RestoreError,
  CorruptBackupObjectError,
  ReaderFailedError,
  IdentityFileError,
};

const storageErrors: Record<
  string,
  new (message: string, opts: { location: string; key?: string; retryable?: boolean }) => StorageError
> = {
  StorageError,
  ObjectNotFoundError,
  BucketNotFoundError,
  StorageUnreachableError,
  StorageAccessError,
  CorruptObjectError,
  CorruptManifestError,
};

/** The thread's error as the class the callers branch on (restore, storage), else a plain Error. */
function revive(f: ThreadFailure): Error {
  const restore = restoreErrors[f.name];
  if (restore) return new restore(f.message);
  if (f.name === 'ObjectIntegrityError' && f.what !== undefined && f.key !== undefined) {
    return new ObjectIntegrityError(f.what, { location: f.location ?? '', key: f.key });
  }
  const storage = storageErrors[f.name];
  if (storage) {
    return new storage(f.message, {
      location: f.location ?? '',
      ...(f.key === undefined ? {} : { key: f.key }),
      ...(f.retryable === undefined ? {} : { retryable: f.retryable }),
    });
  }
  const err = new Error(f.message) as Error & { code?: string; retryable?: boolean };
  err.name = f.name;
  if (f.code !== undefined) err.code = f.code;
  if (f.retryable !== undefined) err.retryable = f.retryable;
  return err;
}

/**
 * readBackupObject into a command (tar -x, tar --list, pg_restore): the object's plaintext is decompressed
 * and piped into it; resolves once the command exited 0 and the stored bytes matched the manifest's
 * sha256. A large object is read in a thread of its own (readBackupObjectInThread).
 */
export function readBackupObjectInto(opts: CommandReadOptions): Promise<{ storedBytes: number }> {
  if (opts.object.storedBytes >= THREAD_MIN_BYTES) return readBackupObjectInThread(opts);
  return readIntoCommand(opts.store, opts, opts.signal, opts.onProgress);
}

/** The read itself, the same on the calling thread and in a reading thread. */
export async function readIntoCommand(
  store: BackupStore,
  input: ReadThreadInput,
  signal: AbortSignal | undefined,
  onProgress: ((storedBytes: number) => void) | undefined,
  sink: Parameters<typeof readerSink>[3] = {},
): Promise<{ storedBytes: number }> {
  return readBackupObject({
    store,
    key: input.key,
    object: input.object,
    compression: input.compression,
    identities: await loadIdentities(input.identityFile),
    // Chunks are decompressed one by one as they are read (each is its own frame, its length checked).
    sink: readerSink(input.object.chunked ? 'none' : input.compression, input.reader, input.what, sink),
    signal,
    onProgress,
  });
}

/**
 * readBackupObjectInto in a worker thread: every byte is received, hashed, decrypted and written to the
 * command's pipe there (with blocking writes: child-sink.ts), and the calling thread only passes
 * progress on. In the worker process that
 * thread also runs Temporal's worker, and the garbage collector's work on the ~2 GB of buffers passing
 * through grows with its heap: measured on a 1 GiB object in a process that had loaded the worker's
 * modules, 7.5-8.8 s of CPU and 6.7-7.8 s wall on the calling thread, 5.9-6.8 s and 5.9-6.6 s in a
 * thread (which costs ~0.4 s to start). The thread's errors are revived as their classes
 * (ObjectIntegrityError, StorageUnreachableError, ...); after an abort it rejects with the signal's
 * reason once the thread has stopped its reader.
 */
export function readBackupObjectInThread(opts: CommandReadOptions): Promise<{ storedBytes: number }> {
  const { signal, onProgress, store: _store, ...input } = opts;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  const workerData: ReadThreadInput = input;
  const worker = new Worker(new URL('./read-thread-worker.ts', import.meta.url), { workerData });
  let reader: number | undefined;
  const abort = () => {
    worker.postMessage('abort');
    // The thread may be blocked writing to a reader that stopped reading: stopping the reader frees it.
    if (reader !== undefined) {
      try {
        process.kill(-reader, 'SIGKILL');
      } catch {
        // exited already
      }
    }
  };
  signal?.addEventListener('abort', abort, { once: true });
  return new Promise<{ storedBytes: number }>((resolve, reject) => {
    worker.on('message', (m: ReadThreadMessage) => {
      if (m.type === 'reader') reader = m.pid;
      else if (m.type === 'progress') onProgress?.(m.storedBytes);
      else if (m.type === 'done') {
        onProgress?.(m.storedBytes);
        resolve({ storedBytes: m.storedBytes });
      } else if (signal?.aborted) reject(signal.reason as Error);
      else reject(revive(m.error));
    });
    worker.on('error', reject);
    worker.on('exit', (code) =>
      reject(new Error(`${opts.key}: the reading thread exited (code ${code}) before it finished`)),
    );
  }).finally(() => {
    signal?.removeEventListener('abort', abort);
    void worker.terminate();
  });
}
