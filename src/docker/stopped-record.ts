import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StateFileError } from './errors.ts';

/** One container that dockvault stopped and has not restarted yet. */
export interface StoppedEntry {
  container: string;
  containerId: string;
  workflowId: string;
  runId: string;
  stoppedAt: string;
}

interface RecordFile {
  version: 1;
  entries: StoppedEntry[];
}

export const STOPPED_RECORD_FILE = 'stopped-containers.json';

/**
 * The on-disk list of containers dockvault stopped, so a reconciler can restart them after a crash,
 * a terminated workflow or a reboot. One JSON file, replaced atomically (temp file + fsync + rename +
 * directory fsync); calls in one process are serialized. Not safe for two processes sharing `dir`:
 * run one worker per host (or per state dir).
 */
export class StoppedRecord {
  readonly dir: string;
  readonly path: string;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly containerQueues = new Map<string, Promise<unknown>>();

  constructor(dir: string) {
    this.dir = dir;
    this.path = join(dir, STOPPED_RECORD_FILE);
  }

  /** Records a stopped container; adding the same (container, workflowId) again replaces the entry. */
  add(entry: StoppedEntry): Promise<void> {
    return this.serialize(async () => {
      const entries = (await this.read()).filter(
        (e) => !(e.container === entry.container && e.workflowId === entry.workflowId),
      );
      entries.push({ ...entry });
      await this.write(entries);
    });
  }

  /** Forgets a container once restarted; removing an absent entry is fine. */
  remove(container: string, workflowId: string): Promise<void> {
    return this.serialize(async () => {
      const entries = await this.read();
      const kept = entries.filter((e) => !(e.container === container && e.workflowId === workflowId));
      if (kept.length !== entries.length) await this.write(kept);
    });
  }

  list(): Promise<StoppedEntry[]> {
    return this.serialize(() => this.read());
  }

  /**
   * Runs `op` while no other `exclusive` call for the same container runs in this process. The stop
   * activity (record, then stop), the starts and the reconciler (decide, then start) each hold it for
   * their whole step, so the reconciler never decides on a record that a stop changes under it: it
   * cannot start a container a new run has just recorded and stopped. Other containers do not wait.
   */
  exclusive<T>(container: string, op: () => Promise<T>): Promise<T> {
    const next = (this.containerQueues.get(container) ?? Promise.resolve()).then(op, op);
    const tail = next.catch(() => undefined);
    this.containerQueues.set(container, tail);
    void tail.then(() => {
      if (this.containerQueues.get(container) === tail) this.containerQueues.delete(container);
    });
    return next;
  }

  private serialize<T>(op: () => Promise<T>): Promise<T> {
    const next = this.queue.then(op, op);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async read(): Promise<StoppedEntry[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new StateFileError(this.path, `cannot read ${this.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      // Never treat a damaged record as empty: containers listed in it would never be restarted.
      throw new StateFileError(this.path, `${this.path} is not valid JSON; fix or remove it by hand`, {
        cause: err,
      });
    }
    const entries = (parsed as Partial<RecordFile> | null)?.entries;
    if (!Array.isArray(entries)) {
      throw new StateFileError(this.path, `${this.path} has no 'entries' array; fix or remove it by hand`);
    }
    return entries;
  }

  private async write(entries: StoppedEntry[]): Promise<void> {
    const body: RecordFile = { version: 1, entries };
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(body, null, 2)}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
      const dir = await open(this.dir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (err) {
      await rm(tmp, { force: true });
      throw new StateFileError(this.path, `cannot write ${this.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}
