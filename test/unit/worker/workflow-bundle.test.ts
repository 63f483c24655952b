import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWorkflowBundle } from '../../../src/workflow-bundle.ts';

test('the workflow bundle keeps a source map of the workflows without their embedded sources', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dockvault-bundle-'));
  try {
    const code = await readFile(await buildWorkflowBundle(dir), 'utf8');
    const match = /\/\/# sourceMappingURL=data:application\/json;charset=utf-8;base64,(\S+)\s*$/.exec(code);
    assert.ok(match, 'inline source map at the end');
    const map = JSON.parse(Buffer.from(match[1]!, 'base64').toString()) as Record<string, unknown>;
    assert.equal(map.sourcesContent, undefined);
    assert.ok((map.sources as string[]).some((s) => s.endsWith('src/workflows/standard-backup.ts')));
    assert.ok(typeof map.mappings === 'string' && map.mappings.length > 10_000);
    assert.match(code, /function standardBackup/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
