// Shared set-up of the restore tests: one backup of a small but demanding tree, made with the real CLI.
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { manifestKey } from '../../../src/storage/layout.ts';
import type { Manifest } from '../../../src/storage/manifest.ts';
import type { BackupTestEnv } from '../../helpers/backup-env.ts';
import { runCli } from '../../helpers/worker-process.ts';

/** Files a restore must bring back exactly: modes incl. setuid, owners, links, sparse, unicode, mtimes. */
export function demandingTree(volume: string, randomMiB = 8): string {
  return `cd /${volume}
     mkdir -p dir/sub empty 'données'
     echo hello > dir/sub/file.txt; chmod 600 dir/sub/file.txt
     printf '#!/bin/sh\\necho hi\\n' > tool.sh; chmod 4755 tool.sh
     ln -s dir/sub/file.txt link-to-file; ln -s /nonexistent dangling
     ln dir/sub/file.txt hardlink.txt
     echo unicode > 'données/日本語 ✓.txt'
     echo owned > owned.txt; chown 1234:5678 owned.txt; chown 1234:5678 dir
     head -c ${randomMiB * 1048576} /dev/urandom > big.bin
     dd if=/dev/zero of=sparse.img bs=1 count=0 seek=67108864 2>/dev/null
     touch -d '2001-02-03 04:05:06' dir/sub/file.txt
     chmod 750 .`;
}

/** Changes, deletions and additions after the backup, so a restore has something to undo. */
export function damage(volume: string): string {
  return `cd /${volume}
     echo changed > dir/sub/file.txt
     rm -rf 'données' tool.sh dangling
     echo new > added.txt; mkdir -p newdir; echo x > newdir/y
     chmod 700 dir; chown 0:0 owned.txt
     head -c 1024 /dev/urandom | dd of=big.bin conv=notrunc 2>/dev/null`;
}

export async function runBackup(env: BackupTestEnv, definition: string): Promise<Manifest> {
  const run = await runCli(['run', definition, '--config', env.configPath]);
  assert.equal(run.code, 0, `run failed:\n${run.stdout}\n${run.stderr}\nworker:\n${env.worker?.output()}`);
  const ids: string[] = [];
  for (const p of await env.store.listPrefixes(`${definition}/`)) {
    const id = p.replace(/\/$/, '').split('/').pop()!;
    if (await env.store.head(manifestKey(definition, id))) ids.push(id);
  }
  ids.sort();
  return (await env.store.getJson(manifestKey(definition, ids.at(-1)!))) as Manifest;
}

export function restoreCli(env: BackupTestEnv, args: string[], identity = env.identityPath) {
  return runCli(['restore', ...args, '--identity', identity, '--config', env.configPath]);
}

export function verifyCli(env: BackupTestEnv, args: string[], identity = env.identityPath) {
  return runCli(['verify', ...args, '--identity', identity, '--config', env.configPath]);
}

export async function download(env: BackupTestEnv, key: string, path: string): Promise<void> {
  await pipeline(await env.store.get(key), createWriteStream(path));
}
