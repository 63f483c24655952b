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

const inlineMapPrefix = '//# sourceMappingURL=data:application/json;charset=utf-8;base64,';

/**
 * The bundle with its inline source map minus the embedded sources (`sourcesContent`, two thirds of the
 * file): stack traces still map to the original files and lines, and the worker holds the bundle and
 * its parsed map in both of its threads for its whole life (idle worker ~7 MB smaller).
 */
function withoutEmbeddedSources(code: string): string {
  const at = code.lastIndexOf('//# sourceMappingURL=data:');
  const base64 = at < 0 ? -1 : code.indexOf('base64,', at);
  if (base64 < 0) throw new Error('the workflow bundle has no inline source map');
  const map = JSON.parse(Buffer.from(code.slice(base64 + 'base64,'.length).trim(), 'base64').toString()) as {
    sourcesContent?: unknown;
  };
  delete map.sourcesContent;
  return `${code.slice(0, at)}${inlineMapPrefix}${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}

async function bundleTo(codePath: string): Promise<void> {
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: undefined });
  await writeFile(codePath, withoutEmbeddedSources(code));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleTo(process.argv[2]!);
}
