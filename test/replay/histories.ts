// The recorded histories that test/replay/replay-histories.test.ts replays: one JSON file per workflow path.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';

// The SDK's historyToJSON/historyFromJSON fail here ("type must be a Type"): npm installs one copy of
// protobufjs per @temporalio package and they check each other's types with instanceof. The
// generated message class's own JSON form round-trips byte for byte (timestamps as seconds/nanos).
const { History: HistoryMessage } = proto.temporal.api.history.v1;

export const historiesDir = fileURLToPath(new URL('./histories/', import.meta.url));

export interface RecordedHistory {
  description: string;
  /** The commit whose workflow code wrote the history. */
  recordedAt: string;
  /** Replays need it: backup ids and lock ids are derived from workflow ids. */
  workflowId: string;
  history: object;
}

/** One directory per commit the histories were recorded on. */
export function historyFile(commit: string, name: string): string {
  return join(historiesDir, commit, `${name}.json`);
}

export function historyToObject(history: History): object {
  return HistoryMessage.fromObject(history).toJSON();
}

/** Every recorded history, named `<commit>/<path>`. */
export async function recordedHistories(): Promise<{ name: string; workflowId: string; history: History }[]> {
  const files = (await readdir(historiesDir, { recursive: true })).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => {
      const recorded = JSON.parse(await readFile(join(historiesDir, file), 'utf8')) as RecordedHistory;
      return {
        name: file.replace(/\.json$/, ''),
        workflowId: recorded.workflowId,
        history: HistoryMessage.fromObject(recorded.history),
      };
    }),
  );
}
