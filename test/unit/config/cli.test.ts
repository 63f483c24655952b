import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it, mock } from 'node:test';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../../src/cli/command.ts';
import { commands } from '../../../src/cli/commands/index.ts';
import { configCommand } from '../../../src/cli/commands/config.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const seed = `${root}examples/dockvault.yml`;
const bad = `${root}test/unit/config/fixtures/bad.yml`;

/** Runs the command object with console output captured. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = mock.method(console, 'log', (...args: unknown[]) => out.push(args.join(' ')));
  const error = mock.method(console, 'error', (...args: unknown[]) => err.push(args.join(' ')));
  try {
    const code = await configCommand.run(argv);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    log.mock.restore();
    error.mock.restore();
  }
}

describe('configCommand', () => {
  it('check prints the plan and exits 0 for the seed example', async () => {
    const { code, stdout } = await run(['check', seed]);
    assert.equal(code, 0);
    assert.match(stdout, /backup1 \(standard\)/);
    assert.match(stdout, /stops: +container1 -> container2/);
    assert.match(stdout, /restarts: +container2 -> container1/);
    assert.match(stdout, /all databases, discovered at run time/);
    assert.match(stdout, /s3:\/\/dockvault\/backups\/backup1\/<backup-id>\//);
    assert.match(stdout, /WARNING: no recipients configured/);
  });

  it('check accepts --config', async () => {
    assert.equal((await run(['check', '--config', seed])).code, 0);
  });

  it('check exits 1 and prints every issue with its path on stderr', async () => {
    const { code, stderr } = await run(['check', bad]);
    assert.equal(code, 1);
    assert.match(stderr, /bad\.yml: 1 error/);
    assert.match(stderr, /bad\.yml:6:5 backupDefinitions\[0\]\.volumnes: unknown key "volumnes"/);
  });

  it('schema prints the JSON Schema', async () => {
    const { code, stdout } = await run(['schema']);
    assert.equal(code, 0);
    assert.equal((JSON.parse(stdout) as { title: string }).title, 'dockvault configuration');
  });

  it('rejects unknown subcommands and flags as usage errors', async () => {
    await assert.rejects(run(['frobnicate']), UsageError);
    await assert.rejects(run(['check', '--nope']), UsageError);
    await assert.rejects(run(['check', 'a.yml', 'b.yml']), UsageError);
  });
});

describe('bin/dockvault.js config', () => {
  const bin = (...args: string[]) =>
    spawnSync(process.execPath, [`${root}bin/dockvault.js`, 'config', ...args], {
      encoding: 'utf8',
      cwd: root,
    });

  it('check examples/dockvault.yml exits 0', () => {
    const result = bin('check', 'examples/dockvault.yml');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /backup2 \(postgresqldatabase\)/);
  });

  it('check of a bad file exits 1 naming the path', () => {
    const result = bin('check', 'test/unit/config/fixtures/bad.yml');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /backupDefinitions\[0\]\.volumnes/);
  });
});

describe('the command list', () => {
  it('loads every listed command, and --help names them all', async () => {
    for (const [name, listed] of Object.entries(commands)) {
      assert.equal(typeof (await listed.load()).run, 'function', name);
    }
    const help = spawnSync(process.execPath, [`${root}bin/dockvault.js`, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    for (const [name, listed] of Object.entries(commands)) {
      const line = help.stdout.split('\n').find((l) => l.startsWith(`  ${name} `));
      assert.ok(line?.endsWith(listed.summary), `--help lists ${name}: ${line}`);
    }
  });
});
