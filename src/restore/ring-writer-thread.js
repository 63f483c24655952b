// The thread of RingWriter (ring-writer.ts): writes what the ring holds to its descriptor with blocking
// write(2) until the writing side ends or stops it, or a write fails (then the errno is left for the
// writing side). JavaScript, not TypeScript: a thread that loads a .ts file also loads Node's type
// stripper, ~17 MB of memory for the thread's life (measured), for these few lines. The ring's layout
// comes in workerData from ring-writer.ts, its one definition.
import { writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';

/** @type {import('./ring-writer.ts').RingWriterInput} */
const { ring, control, fd, layout } = workerData;
const { USED, ERRNO, END, STOP, BROKEN, FLAGS } = layout;
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
  Atomics.store(ctrl, ERRNO, -(err.errno ?? -5));
  Atomics.or(ctrl, USED, BROKEN);
  Atomics.notify(ctrl, USED);
}
