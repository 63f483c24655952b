// Bundles the workflow code in a short-lived child process: webpack's peak memory (~300 MB) would
// otherwise stay in the long-running worker's heap for its whole life.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const workflowsPath = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

/** Writes the bundle under `dir` (in a child process) and returns its path for `workflowBundle.codePath`. */
export async function buildWorkflowBundle(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const codePath = join(dir, 'workflow-bundle.js');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), codePath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`bundling the workflow code failed (exit ${code}):\n${stderr}`);
  return codePath;
}

async function bundleTo(codePath: string): Promise<void> {
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: undefined });
  await writeFile(codePath, code);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleTo(process.argv[2]!);
}
