import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readIdentityFile } from '../../../src/pipeline/age/index.ts';
import { run, withTempDir } from './helpers.ts';

const commandModule = fileURLToPath(new URL('../../../src/cli/commands/keygen.ts', import.meta.url));

/** Runs `dockvault keygen ARGS` in a child process, as the CLI would. */
function keygen(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `import { keygenCommand } from ${JSON.stringify(commandModule)};
keygenCommand.run(process.argv.slice(1)).then((c) => { process.exitCode = c; }, (e) => { console.error(e.message); process.exitCode = 1; });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

void describe('dockvault keygen', () => {
  void it('-o writes a 0600 identity file and prints the recipient age-keygen derives', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'restore-key.txt');
      const { code, stdout, stderr } = await keygen(['-o', file]);
      assert.equal(code, 0, stderr);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      const recipient = stdout.trim();
      assert.match(recipient, /^age1[0-9a-z]{58}$/);
      assert.equal((await run('age-keygen', ['-y', file])).toString().trim(), recipient);
      const [identity] = await readIdentityFile(file);
      assert.equal(identity?.recipient, recipient);
      const text = await readFile(file, 'utf8');
      assert.match(
        text,
        new RegExp(
          `^# created: \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\n# public key: ${recipient}\\nAGE-SECRET-KEY-1[0-9A-Z]{58}\\n$`,
        ),
      );
      assert.ok(!stdout.includes('AGE-SECRET-KEY'), 'the secret is never printed with -o');
    });
  });

  void it('refuses to overwrite an existing file', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'key.txt');
      await writeFile(file, 'precious\n');
      const { code, stderr } = await keygen(['-o', file]);
      assert.notEqual(code, 0);
      assert.match(stderr, /already exists; refusing to overwrite/);
      assert.equal(await readFile(file, 'utf8'), 'precious\n');
    });
  });

  void it('without -o prints the identity file to stdout and the public key to stderr', async () => {
    await withTempDir(async (dir) => {
      const { code, stdout, stderr } = await keygen([]);
      assert.equal(code, 0, stderr);
      const recipient = /^Public key: (age1[0-9a-z]{58})\n$/.exec(stderr)?.[1];
      assert.ok(recipient, stderr);
      assert.ok(stdout.includes(`# public key: ${recipient}\n`));
      const file = join(dir, 'key.txt');
      await writeFile(file, stdout);
      assert.equal((await run('age-keygen', ['-y', file])).toString().trim(), recipient);
    });
  });

  void it('rejects unknown options', async () => {
    const { code, stderr } = await keygen(['--bogus']);
    assert.notEqual(code, 0);
    assert.match(stderr, /bogus/);
  });
});
