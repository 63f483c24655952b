import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { link, mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_TAR_ARGS } from '../../../src/docker/archive.ts';
import { groupEntries } from '../../../src/incremental/entry-groups.ts';
import { planReads } from '../../../src/incremental/read-plan.ts';
import { TarEntrySplitter } from '../../../src/incremental/tar-entries.ts';
import { scanVolume } from '../../../src/incremental/volume-scan.ts';

// The premise of reading only changed entries: GNU tar given a list of entries writes, for each, the
// same bytes as in an archive of the whole tree, so entries read now and entries stored earlier make
// the archive a full tar would.

async function makeTree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dv-tar-subset-'));
  await mkdir(join(root, 'd/deeper'), { recursive: true });
  await writeFile(join(root, 'a.txt'), 'hello\n');
  await writeFile(join(root, 'd/b.bin'), randomBytes(3 * 1024 * 1024 + 17));
  await writeFile(join(root, 'd/deeper/empty'), '');
  await link(join(root, 'a.txt'), join(root, 'd/z-hardlink'));
  await symlink('../a.txt', join(root, 'd/link'));
  await writeFile(join(root, `${'long-name-'.repeat(15)}.txt`), 'long\n');
  await writeFile(join(root, 'ünïcode ✓'), 'u\n');
  await writeFile(join(root, 'sparse'), '');
  await truncate(join(root, 'sparse'), 20 * 1024 * 1024);
  execFileSync('sh', [
    '-c',
    `printf abc | dd of=${join(root, 'sparse')} bs=1 seek=5000000 conv=notrunc 2>/dev/null`,
  ]);
  for (let i = 0; i < 40; i++)
    await writeFile(join(root, `d/f-${String(i).padStart(2, '0')}`), randomBytes(40_000));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  return root;
}

function tar(root: string, list?: Buffer): Buffer {
  const what = list ? ['--no-recursion', '--null', '--verbatim-files-from', '--files-from=-'] : ['.'];
  const r = spawnSync('tar', [...HOST_TAR_ARGS, `--directory=${root}`, ...what], {
    input: list ?? '',
    maxBuffer: 1 << 30,
    env: { ...process.env, LC_ALL: 'C.UTF-8' },
  });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
}

/** Each entry's bytes and name, the stream split at random places. */
function split(stream: Buffer): { names: string[]; entries: Buffer[]; tail: number } {
  const splitter = new TarEntrySplitter('test');
  const entries: Buffer[][] = [];
  const names: string[] = [];
  let tail = 0;
  for (let at = 0; at < stream.length;) {
    const n = 1 + Math.floor(Math.random() * 70_000);
    for (const p of splitter.push(stream.subarray(at, at + n))) {
      if (p.entry === -1) {
        tail += p.data.length;
        continue;
      }
      if (p.name) names[p.entry] = p.name.toString();
      (entries[p.entry] ??= []).push(p.data);
    }
    at += n;
  }
  splitter.end();
  return { names, entries: entries.map((e) => Buffer.concat(e)), tail };
}

test('the scan lists what tar archives, in its order, and the splitter finds every entry', async () => {
  const root = await makeTree();
  try {
    const full = tar(root);
    const scanned = await scanVolume(root);
    const { names, entries, tail } = split(full);
    assert.deepEqual(
      names,
      scanned.map((e) => e.path.toString()),
    );
    assert.equal(entries.reduce((n, e) => n + e.length, 0) + tail, full.length);
    const listed = Buffer.concat(scanned.flatMap((e) => [e.path, Buffer.from([0])]));
    assert.ok(tar(root, listed).equals(full), 'a listed archive of every entry is the full archive');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('entries read alone (hard links included) have the bytes they have in the full archive', async () => {
  const root = await makeTree();
  try {
    const full = split(tar(root));
    const scanned = await scanVolume(root);
    const groups = groupEntries(scanned, 'salt', Date.now() + 10_000);
    assert.ok(groups.some((g) => g.large) && groups.some((g) => !g.large));
    // Reuse every group except the one holding the hard link's second name.
    const second = scanned.findIndex((e) => e.path.toString() === './d/z-hardlink');
    const previous = new Map(
      groups
        .filter((g) => !(g.first <= second && second < g.first + g.count))
        .map((g) => [g.key, [{ name: 'f'.repeat(64), plaintextBytes: 1, storedBytes: 1 }]]),
    );
    const plan = planReads(scanned, groups, previous);
    assert.equal(plan.dropped.length, 1, 'the first name of the hard link is read for tar, then dropped');
    const sub = split(tar(root, plan.list));
    const kept = sub.names
      .map((name, i) => ({ name, bytes: sub.entries[i]! }))
      .filter((_, i) => !plan.dropped.includes(i));
    assert.ok(kept.some((k) => k.name === './d/z-hardlink'));
    for (const k of kept) {
      const i = full.names.indexOf(k.name);
      assert.ok(full.entries[i]!.equals(k.bytes), `${k.name}: same bytes as in the full archive`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a change regroups only the entries near it', async () => {
  const root = await makeTree();
  try {
    for (let i = 0; i < 400; i++)
      await writeFile(join(root, `d/deeper/s-${String(i).padStart(3, '0')}`), randomBytes(20_000));
    const before = groupEntries(await scanVolume(root), 'salt', Date.now() + 10_000);
    await writeFile(join(root, 'd/deeper/s-200'), randomBytes(30_000));
    await writeFile(join(root, 'd/deeper/s-200a'), randomBytes(5_000));
    const after = groupEntries(await scanVolume(root), 'salt', Date.now() + 10_000);
    const old = new Set(before.map((g) => g.key));
    const changed = after.filter((g) => !old.has(g.key));
    assert.ok(before.length > 10, `${before.length} groups`);
    // The directory's own entry changed too (its mtime), so up to two regions, each a group or two.
    assert.ok(
      changed.length >= 1 && changed.length <= 4,
      `${changed.length} of ${after.length} groups changed`,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
