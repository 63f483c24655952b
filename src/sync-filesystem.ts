import { spawn } from 'node:child_process';

/** `sync --file-system`: everything written to the filesystem of `path` is on disk when it resolves. */
export function syncFilesystem(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sync', ['--file-system', path], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`sync --file-system ${path} exited with ${code}`)),
    );
  });
}
