// Another commit of this repository checked out next to the current one, to run its worker: the
// upgrade drill starts a run on the previous release's worker and lets the current one finish it.
import { execFile } from 'node:child_process';
import { readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { scratchDir } from './scratch.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

interface LockFile {
  packages: Record<string, { version?: string; integrity?: string }>;
}

/** True when every package the other lock file installs is installed here at the same version. */
function sameInstall(theirs: LockFile, ours: LockFile): boolean {
  return Object.entries(theirs.packages).every(
    ([path, pkg]) =>
      path === '' ||
      (ours.packages[path]?.version === pkg.version && ours.packages[path]?.integrity === pkg.integrity),
  );
}

export interface ReleaseCheckout {
  dir: string;
  /** Its `bin/dockvault.js`. */
  bin: string;
  /** How its node_modules came to be: shared with this tree, or its own `npm ci`. */
  install: 'shared' | 'npm ci';
  remove: () => Promise<void>;
}

/**
 * A detached git worktree of `commit` in a temp directory. Its dependencies are this tree's
 * node_modules when its package-lock.json pins the same packages (a second install takes a minute),
 * else its own `npm ci`.
 */
export async function checkoutRelease(commit: string): Promise<ReleaseCheckout> {
  const scratch = await scratchDir('dvt-release');
  const dir = join(scratch.dir, 'tree');
  await run('git', ['-C', root, 'worktree', 'add', '--detach', dir, commit]);
  const remove = async () => {
    await run('git', ['-C', root, 'worktree', 'remove', '--force', dir]).catch(() => undefined);
    await scratch.cleanup();
    await run('git', ['-C', root, 'worktree', 'prune']);
  };
  try {
    const theirs = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as LockFile;
    const ours = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as LockFile;
    let install: ReleaseCheckout['install'] = 'shared';
    if (sameInstall(theirs, ours)) {
      await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    } else {
      install = 'npm ci';
      await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
    }
    return { dir, bin: join(dir, 'bin', 'dockvault.js'), install, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
