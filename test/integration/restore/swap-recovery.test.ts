// The swap's crash recovery on a real filesystem: from every point a worker can die at, a retried
// swap or the clean-up leaves the data directory holding exactly the old tree or exactly the new one.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  markReady,
  restorePaths,
  settle,
  swapIn,
  freshStaging,
  type RestorePaths,
} from '../../../src/restore/swap.ts';
import { scratchDir } from '../../helpers/scratch.ts';

let cleanup: () => Promise<void>;
let paths: RestorePaths;

beforeEach(async () => {
  const scratch = await scratchDir('dv-swap');
  cleanup = scratch.cleanup;
  const data = join(scratch.dir, 'vol', '_data');
  await mkdir(data, { recursive: true });
  await writeFile(join(data, 'f'), 'old');
  paths = restorePaths(data, 'abc123');
  await freshStaging(paths);
  await writeFile(join(paths.staging, 'f'), 'new');
});
afterEach(async () => {
  await cleanup();
});

const content = () => readFile(join(paths.data, 'f'), 'utf8');
const leftovers = async () => (await readdir(join(paths.data, '..'))).filter((n) => n !== '_data');

test('a complete swap puts the new tree in place and settle removes the old one', async () => {
  await markReady(paths);
  assert.equal(await swapIn(paths), 'swapped');
  assert.equal(await content(), 'new');
  assert.equal(await swapIn(paths), 'already swapped', 'a retried swap is a no-op');
  await settle(paths);
  assert.equal(await content(), 'new');
  assert.deepEqual(await leftovers(), []);
});

test('died while extracting: settle removes the partial tree, the old one stays', async () => {
  await settle(paths);
  assert.equal(await content(), 'old');
  assert.deepEqual(await leftovers(), []);
  await assert.rejects(swapIn(paths), /no staged tree/);
});

test('died between the two renames: the retried swap and settle both roll forward', async () => {
  await markReady(paths);
  await rename(paths.data, paths.old); // the first rename of swapIn, then the crash
  assert.equal(await swapIn(paths), 'swapped');
  assert.equal(await content(), 'new');

  await rename(paths.data, paths.ready); // same crash point again, this time cleaned up by settle
  await settle(paths);
  assert.equal(await content(), 'new');
  assert.deepEqual(await leftovers(), []);
});
