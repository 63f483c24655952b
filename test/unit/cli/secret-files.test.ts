import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readSecretFiles, SecretFileError } from '../../../src/cli/secret-files.ts';
import { scratchDir } from '../../helpers/scratch.ts';

let dir = '';
let cleanup = async () => {};
before(async () => ({ dir, cleanup } = await scratchDir('secret-files')));
after(() => cleanup());

test('NAME_FILE sets NAME from the file without its trailing newline, and is dropped', async () => {
  await writeFile(join(dir, 'secret'), 's3cr3t\n');
  const env: NodeJS.ProcessEnv = {
    AWS_SECRET_ACCESS_KEY_FILE: join(dir, 'secret'),
    AWS_ACCESS_KEY_ID: 'key',
  };
  readSecretFiles(env);
  assert.deepEqual(env, { AWS_SECRET_ACCESS_KEY: 's3cr3t', AWS_ACCESS_KEY_ID: 'key' });
});

test("an empty NAME_FILE is unset, an empty NAME does not conflict (compose's ${VAR:-})", async () => {
  await writeFile(join(dir, 'key'), 'from-file');
  const env: NodeJS.ProcessEnv = {
    AWS_ACCESS_KEY_ID: '',
    AWS_ACCESS_KEY_ID_FILE: join(dir, 'key'),
    AWS_SESSION_TOKEN_FILE: '',
  };
  readSecretFiles(env);
  assert.deepEqual(env, { AWS_ACCESS_KEY_ID: 'from-file' });
});

test('both NAME and NAME_FILE, or an unreadable file, fail with the variable named and no value shown', async () => {
  await writeFile(join(dir, 'other'), 'other-secret');
  assert.throws(
    () =>
      readSecretFiles({
        AWS_SECRET_ACCESS_KEY: 'inline-secret',
        AWS_SECRET_ACCESS_KEY_FILE: join(dir, 'other'),
      }),
    (err: Error) =>
      err instanceof SecretFileError &&
      /both AWS_SECRET_ACCESS_KEY and AWS_SECRET_ACCESS_KEY_FILE are set/.test(err.message) &&
      !/secret'|inline-secret|other-secret/.test(err.message),
  );
  assert.throws(
    () => readSecretFiles({ AWS_SECRET_ACCESS_KEY_FILE: join(dir, 'missing') }),
    /AWS_SECRET_ACCESS_KEY_FILE: cannot read .*missing/,
  );
});

test('TEMPORAL_API_KEY_FILE sets the Temporal API key, as for the S3 credentials', async () => {
  await writeFile(join(dir, 'temporal-api-key'), 'tls-key-value\n');
  const env: NodeJS.ProcessEnv = { TEMPORAL_API_KEY_FILE: join(dir, 'temporal-api-key') };
  readSecretFiles(env);
  assert.deepEqual(env, { TEMPORAL_API_KEY: 'tls-key-value' });
});
