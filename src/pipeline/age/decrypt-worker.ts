// The worker thread of DecryptThread: hashes what it is sent, in order, and opens the runs of payload
// chunks with the payload key it was started with; sends back each run's plaintexts, transferred, together
// with the run's own buffer, or the run's typed failure.
import { createHash, createSecretKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { openRun, type PayloadContext } from './decrypt-chunks.ts';
import type { DecryptThreadData, DecryptThreadReply, DecryptThreadRequest } from './decrypt-thread.ts';

const data = workerData as DecryptThreadData;
const ctx: PayloadContext = {
  key: createSecretKey(data.key),
  name: data.name,
  payloadStart: data.payloadStart,
};
const hash = data.sha256 ? createHash('sha256') : undefined;
const port = parentPort!;

function reply(message: DecryptThreadReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

port.on('message', (request: DecryptThreadRequest) => {
  if (request.type === 'hash') {
    hash?.update(request.data);
    return;
  }
  if (request.type === 'digest') {
    reply({ id: request.id, digest: hash?.digest('hex') ?? '' });
    return;
  }
  const d = request.data;
  const ciphertext = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  hash?.update(ciphertext);
  try {
    // Each chunk's plaintext is a buffer of its own (node:crypto allocates one per update): transferred
    // as they are, not copied into one.
    const plaintexts = openRun(ctx, { first: request.first, data: ciphertext, final: request.final });
    reply({ id: request.id, plaintexts, ciphertext: d }, [
      ...plaintexts.map((p) => p.buffer as ArrayBuffer),
      d.buffer as ArrayBuffer,
    ]);
  } catch (err) {
    const e = err as Error & { offset?: number; chunkIndex?: number };
    reply({
      id: request.id,
      error: { name: e.name, message: e.message, offset: e.offset, chunkIndex: e.chunkIndex },
    });
  }
});
