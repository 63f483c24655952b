import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PasswordFileError, resolveCredentials } from '../../../src/postgres/credentials.ts';

const files = (content: Record<string, string>) => (path: string) =>
  path in content
    ? Promise.resolve(content[path]!)
    : Promise.reject(Object.assign(new Error('x'), { code: 'ENOENT' }));

describe('resolveCredentials', () => {
  it('peer auth as postgres: no role, no password', async () => {
    assert.deepEqual(await resolveCredentials({ osUser: 'postgres' }, ['PATH=/bin']), {
      dbUser: undefined,
      env: [],
    });
  });
  it('the password file wins, first line only', async () => {
    const creds = await resolveCredentials(
      { osUser: 'postgres', dbUser: 'backup', passwordFile: '/s' },
      ['POSTGRES_PASSWORD=other'],
      files({ '/s': 's3cret\nignored\n' }),
    );
    assert.deepEqual(creds, { dbUser: 'backup', env: ['PGPASSWORD=s3cret'] });
  });
  it('an unreadable or empty file names the path, never the content', async () => {
    await assert.rejects(
      resolveCredentials({ osUser: 'postgres', passwordFile: '/missing' }, [], files({})),
      (err: Error) => err instanceof PasswordFileError && /\/missing \(ENOENT\)/.test(err.message),
    );
    await assert.rejects(
      resolveCredentials({ osUser: 'postgres', passwordFile: '/e' }, [], files({ '/e': '\n' })),
      /is empty/,
    );
  });
  it("the official image's POSTGRES_USER / POSTGRES_PASSWORD", async () => {
    assert.deepEqual(
      await resolveCredentials({ osUser: 'postgres' }, ['POSTGRES_USER=app', 'POSTGRES_PASSWORD=pw']),
      { dbUser: 'app', env: ['PGPASSWORD=pw'] },
    );
    // Another role: POSTGRES_PASSWORD is not its password.
    assert.deepEqual(
      await resolveCredentials({ osUser: 'postgres', dbUser: 'backup' }, ['POSTGRES_PASSWORD=pw']),
      { dbUser: 'backup', env: [] },
    );
  });
  it("the container's PGPASSWORD is inherited by the exec as is", async () => {
    assert.deepEqual(await resolveCredentials({ osUser: 'postgres', dbUser: 'x' }, ['PGPASSWORD=pw']), {
      dbUser: 'x',
      env: [],
    });
  });
});
