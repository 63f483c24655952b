// The thread of RingWriter: writes what the ring holds to its descriptor with blocking write(2) until
// the writing side ends or stops it, or a write fails (then the errno is left for the writing side).
import { writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { BROKEN, END, ERRNO, FLAGS, STOP, USED, type RingWriterInput } from './ring-writer.ts';

const { ring, control, fd } = workerData as RingWriterInput;
const bytes = new Uint8Array(ring);
const ctrl = new Int32Array(control);
let at = 0;
try {
  for (;;) {
    const word = Atomics.load(ctrl, USED);
    if (word & STOP) break;
    const held = word & ~FLAGS;
    if (held === 0) {
      if (word & END) break;
      Atomics.wait(ctrl, USED, word);
      continue;
    }
    const written = writeSync(fd, bytes, at, Math.min(held, bytes.length - at));
    at = (at + written) % bytes.length;
    Atomics.sub(ctrl, USED, written);
    Atomics.notify(ctrl, USED);
  }
} catch (err) {
  Atomics.store(ctrl, ERRNO, -((err as NodeJS.ErrnoException).errno ?? -5));
  Atomics.or(ctrl, USED, BROKEN);
  Atomics.notify(ctrl, USED);
}
