// Buffers of a backup or a restore freed as soon as the code that made them is done with them, rather
// than when V8 next collects the old generation. A buffer's bytes live outside the JavaScript heap, but
// V8 counts those of every buffer still alive since its last full collection against the old
// generation's limit: buffers that outlive two young collections (a chunk waiting for its upload, with
// the worker's 1 MB young generation) piled up until a full collection, which marks the whole heap
// (the Temporal SDK's ~45 MB in the worker's main thread). A first 1 GB backup ran 65-74 of them.
// Measured: docs/FORMAT.md, "Measured" (worker peak RSS).

/** Node's shared pool for small buffers: never detached, other buffers live in it. */
const POOL_BYTES = Buffer.poolSize;

/**
 * Frees the memory of buffers this code made and nothing else reads any more: each one's ArrayBuffer
 * is detached (every view of it becomes empty). A buffer that does not start its ArrayBuffer, or lives
 * in Node's pool, is left to the collector. Never for a buffer a caller handed in and may still hold.
 */
export function discard(...buffers: Buffer[]): void {
  for (const b of buffers) {
    const memory = b.buffer;
    if (b.byteOffset !== 0 || memory.byteLength <= POOL_BYTES || !(memory instanceof ArrayBuffer)) continue;
    if (!memory.detached) memory.transfer(0);
  }
}
