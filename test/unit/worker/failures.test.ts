// Whether an activity's failure is retried comes from its error class alone: the worker's interceptor
// turns `retryable: false` into a non-retryable failure under the class's name, and nothing else
// (no list of type names in a retry policy, no ApplicationFailure built in an activity) decides it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/common';
import {
  ContainerRestartError,
  ContainerRestartedDuringBackupError,
  HookFailedError,
  PreflightError,
  toActivityFailure,
} from '../../../src/activities/failure.ts';
import { PgDumpFailedError, PostgresNotReadyError } from '../../../src/activities/postgres.ts';
import {
  ContainerNotFoundError,
  DockerApiError,
  DockerUnavailableError,
  ExecFailedError,
} from '../../../src/docker/errors.ts';
import { CorruptBackupObjectError, UnknownBackupError } from '../../../src/restore/errors.ts';
import {
  BucketNotFoundError,
  ObjectIntegrityError,
  StorageError,
  StorageUnreachableError,
} from '../../../src/storage/store.ts';

const at = { location: 's3://b/p', key: 'k' };
const nonRetryable = [
  new PreflightError('bad input'),
  new HookFailedError('hook'),
  new ContainerRestartedDuringBackupError('came back'),
  new PgDumpFailedError('pg_dump exited 1'),
  new ContainerNotFoundError('app'),
  new DockerApiError('conflict', 409),
  new ExecFailedError('db', 'timeout', 'timed out'),
  new UnknownBackupError('no backup x'),
  new CorruptBackupObjectError('chunk 3'),
  new ObjectIntegrityError('truncated: 1 of 2 bytes', at),
  new BucketNotFoundError('no bucket', at),
  new StorageError('400', { ...at, retryable: false }),
];
const retryable = [
  new ContainerRestartError('exited again'),
  new PostgresNotReadyError('starting up'),
  new DockerUnavailableError('socket gone'),
  new DockerApiError('500', 500),
  new StorageUnreachableError('ECONNREFUSED', at),
  new StorageError('503', { ...at, retryable: true }),
  new Error('a bug'),
];

test('an error whose class says retryable: false fails the activity at once, under its name', () => {
  for (const err of nonRetryable) {
    const failure = toActivityFailure(err);
    assert.ok(failure instanceof ApplicationFailure, err.name);
    assert.equal(failure.nonRetryable, true, err.name);
    assert.equal(failure.type, err.name);
    assert.equal(failure.message, err.message);
  }
});

test('any other error is left to the retry policy', () => {
  for (const err of retryable) {
    const failure = toActivityFailure(err);
    assert.ok(!(failure instanceof ApplicationFailure && failure.nonRetryable), err.name);
  }
});

test('a renamed class keeps its retries', () => {
  class RenamedPreflightError extends PreflightError {
    override name = 'SomethingElseError';
  }
  const failure = toActivityFailure(new RenamedPreflightError('x'));
  assert.ok(failure instanceof ApplicationFailure);
  assert.equal(failure.nonRetryable, true);
  assert.equal(failure.type, 'SomethingElseError');
});

async function sources(dir: string): Promise<{ file: string; text: string }[]> {
  const root = new URL(`../../../src/${dir}/`, import.meta.url);
  const files = (await readdir(root)).filter((f) => f.endsWith('.ts'));
  return Promise.all(
    files.map(async (f) => ({ file: `${dir}/${f}`, text: await readFile(new URL(f, root), 'utf8') })),
  );
}

test('no retry policy names error types, no activity builds its own failure', async () => {
  for (const { file, text } of await sources('workflows')) {
    assert.doesNotMatch(text, /nonRetryableErrorTypes/, file);
  }
  for (const { file, text } of await sources('activities')) {
    if (file === 'activities/failure.ts') continue;
    assert.doesNotMatch(text, /ApplicationFailure/, file);
  }
});
