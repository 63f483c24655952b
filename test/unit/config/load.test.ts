import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFile, parseConfig, resolveConfigPath } from '../../../src/config/index.ts';
import { ConfigError } from '../../../src/config/index.ts';

const examples = new URL('../../../examples/', import.meta.url);

/** The seed exactly as the original specification wrote it (the example file is prettier-formatted). */
const SPEC_SEED = `backupDefinitions:
  - name: "backup1"
    type: "standard"            # stop containers, archive volumes, restart, encrypt, upload
    containers: ["container1", "container2"]
    volumes: ["volume1", "volume2"]
  - name: "backup2"
    type: "postgresqldatabase"  # pg_dump executed inside the container
    containers: ["postgres_container"]
    volumes: []
`;

describe('loading the seed example', () => {
  it('loads the specification text unchanged, same as examples/dockvault.yml', async () => {
    const fromSpec = parseConfig(SPEC_SEED, 'spec.yml', {});
    const fromFile = await loadConfigFile(new URL('dockvault.yml', examples).pathname, {});
    assert.deepEqual(fromSpec, fromFile);
  });

  it('fills every default', async () => {
    const config = await loadConfigFile(new URL('dockvault.yml', examples).pathname, {});
    assert.equal(config.host, 'local');
    assert.deepEqual(config.temporal, {
      address: '127.0.0.1:7233',
      namespace: 'default',
      taskQueue: 'dockvault',
      uiUrl: 'http://127.0.0.1:8233',
    });
    assert.deepEqual(config.s3, {
      bucket: 'dockvault',
      prefix: 'backups',
      region: 'us-east-1',
      forcePathStyle: false,
      partSizeMiB: 8,
      queueSize: 2,
      chunkGraceMs: 25 * 3_600_000,
    });
    assert.deepEqual(config.encryption, { recipients: [] });
    assert.deepEqual(config.staging, { mode: 'staged', dir: '/var/lib/dockvault/staging', minFreeMiB: 1024 });
    assert.deepEqual(config.compression, { algorithm: 'zstd', level: 3 });
    assert.equal(config.stopTimeoutSeconds, 30);
    assert.deepEqual(config.retention, {});
    assert.deepEqual(config.notifications, { webhooks: [] });

    const [standard, postgres] = config.backupDefinitions;
    assert.ok(standard && postgres);
    assert.equal(standard.type, 'standard');
    assert.deepEqual(standard.containers, ['container1', 'container2']);
    assert.deepEqual(standard.volumes, ['volume1', 'volume2']);
    assert.equal(standard.host, 'local');
    assert.equal(standard.taskQueue, 'dockvault.local');
    assert.equal(standard.stopTimeoutSeconds, 30);
    assert.deepEqual(standard.staging, config.staging);
    assert.deepEqual(standard.compression, { algorithm: 'zstd', level: 3 });
    assert.deepEqual(standard.hooks, { preStop: [], postStart: [] });
    assert.equal(standard.schedule, undefined);
    assert.equal('postgres' in standard, false);

    assert.equal(postgres.type, 'postgresqldatabase');
    assert.deepEqual(postgres.containers, ['postgres_container']);
    assert.deepEqual(postgres.volumes, []);
    assert.ok(postgres.type === 'postgresqldatabase');
    assert.deepEqual(postgres.postgres, {
      databases: 'all',
      globals: true,
      user: 'postgres',
      format: 'custom',
      extraArgs: [],
      storage: 'object',
    });
  });
});

describe('loading the full example', () => {
  it('accepts every option', async () => {
    const config = await loadConfigFile(new URL('dockvault.full.yml', examples).pathname, {});
    assert.equal(config.s3.endpoint, 'http://127.0.0.1:9000');
    assert.equal(config.s3.partSizeMiB, 8);
    assert.deepEqual(config.s3.objectLock, { mode: 'GOVERNANCE', days: 30 });
    assert.deepEqual(config.retention.keepWithin, { years: 1, months: 6, days: 0, hours: 0 });
    assert.equal(config.notifications.webhooks[0]?.staleAfter, 36 * 3600_000);
    assert.deepEqual(config.notifications.webhooks[1]?.format, 'json');

    const [app, db] = config.backupDefinitions;
    assert.ok(app && db);
    assert.equal(app.host, 'web-1');
    assert.equal(app.taskQueue, 'dockvault.web-1');
    assert.deepEqual(app.staging, { mode: 'streaming' });
    assert.deepEqual(app.compression, { algorithm: 'gzip', level: 9 });
    assert.deepEqual(app.retention, { keepDaily: 14 });
    assert.deepEqual(app.schedule?.cron, ['0 3 * * *', '30 12 * * mon-fri']);
    assert.deepEqual(app.schedule?.every, [12 * 3600_000]);
    assert.equal(app.schedule?.jitter, 5 * 60_000);
    assert.deepEqual(app.hooks.postStart[0]?.command, ['sh', '-c', 'echo started']);
    assert.equal(app.hooks.postStart[0]?.timeoutSeconds, 60);

    assert.equal(db.type, 'postgresqldatabase');
    assert.equal(db.host, 'local');
    assert.deepEqual(db.retention, config.retention);
    assert.ok(db.type === 'postgresqldatabase');
    assert.deepEqual(db.postgres.databases, ['app', 'app_audit']);
    assert.equal(db.postgres.dbUser, 'backup');

    const [, , shop, shopDb] = config.backupDefinitions;
    assert.deepEqual(shop?.compose, { project: 'shop', services: ['web', 'db'] });
    assert.deepEqual(shop?.labels, { 'com.example.backup': 'true' });
    assert.deepEqual(shopDb?.containers, []);
  });
});

describe('parseConfig', () => {
  const one = (extra: string) =>
    `${extra}\nbackupDefinitions:\n  - name: a\n    type: standard\n    volumes: [v]\n`;

  it('normalises the postgres alias', () => {
    const config = parseConfig(
      'backupDefinitions: [{ name: db, type: postgres, containers: [pg] }]',
      'x.yml',
      {},
    );
    assert.equal(config.backupDefinitions[0]?.type, 'postgresqldatabase');
  });

  it('accepts a standard definition without containers', () => {
    const config = parseConfig(one(''), 'x.yml', {});
    assert.deepEqual(config.backupDefinitions[0]?.containers, []);
  });

  it('defaults forcePathStyle to true when an endpoint is set', () => {
    assert.equal(
      parseConfig(one('s3: { endpoint: "http://minio:9000" }'), 'x.yml', {}).s3.forcePathStyle,
      true,
    );
    assert.equal(
      parseConfig(one('s3: { endpoint: "http://m:9000", forcePathStyle: false }'), 'x.yml', {}).s3
        .forcePathStyle,
      false,
    );
  });

  it('gives gzip its own default level', () => {
    assert.deepEqual(parseConfig(one('compression: { algorithm: gzip }'), 'x.yml', {}).compression, {
      algorithm: 'gzip',
      level: 6,
    });
  });

  it('inherits the global compression level only for the same algorithm', () => {
    const text = `compression: { algorithm: zstd, level: 12 }
backupDefinitions:
  - { name: a, type: standard, volumes: [v] }
  - { name: b, type: standard, volumes: [v], compression: { algorithm: gzip } }
  - { name: c, type: standard, volumes: [v], compression: { level: 15 } }`;
    const defs = parseConfig(text, 'x.yml', {}).backupDefinitions;
    assert.deepEqual(
      defs.map((d) => d.compression),
      [
        { algorithm: 'zstd', level: 12 },
        { algorithm: 'gzip', level: 6 },
        { algorithm: 'zstd', level: 15 },
      ],
    );
  });

  it('accepts staging: none globally', () => {
    assert.deepEqual(parseConfig(one('staging: none'), 'x.yml', {}).staging, { mode: 'streaming' });
  });

  it('interpolates from the env parameter only', () => {
    // `{` and `}` end a plain scalar inside flow collections, so typed references need block style.
    const config = parseConfig(one('s3:\n  bucket: "${B}"\n  partSizeMiB: ${P:-16}'), 'x.yml', {
      B: 'mine',
      P: '64',
    });
    assert.equal(config.s3.bucket, 'mine');
    assert.equal(config.s3.partSizeMiB, 64);
  });

  it('accepts Temporal cron forms and shorthands', () => {
    const crons = [
      '*/15 * * * *',
      '0 0 1 jan-jun ?',
      '0 30 2 * * * 2030',
      '0 4 * * 1-5 2027',
      '@hourly',
      '@every 90m',
      '@every 1h/15m',
    ];
    for (const cron of crons) {
      const text = one('').replace('volumes: [v]', `volumes: [v]\n    schedule: { cron: "${cron}" }`);
      assert.deepEqual(parseConfig(text, 'x.yml', {}).backupDefinitions[0]?.schedule?.cron, [cron]);
    }
  });

  it('reports a missing file as a ConfigError', async () => {
    await assert.rejects(loadConfigFile('/nonexistent/dockvault.yml', {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /\/nonexistent\/dockvault\.yml.*file not found/s);
      return true;
    });
  });
});

describe('resolveConfigPath', () => {
  it('prefers the flag, then DOCKVAULT_CONFIG, then ./dockvault.yml', () => {
    assert.equal(resolveConfigPath('a.yml', { DOCKVAULT_CONFIG: 'b.yml' }), 'a.yml');
    assert.equal(resolveConfigPath(undefined, { DOCKVAULT_CONFIG: 'b.yml' }), 'b.yml');
    assert.equal(resolveConfigPath(undefined, {}), './dockvault.yml');
  });
});
