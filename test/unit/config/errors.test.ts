import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/config/index.ts';
import { generateIdentity } from '../../../src/pipeline/age/keys.ts';

/** A valid standard definition; `body` adds keys at definition level (4 spaces) from line 6 on. */
const std = (body = '') => `backupDefinitions:
  - name: app
    type: standard
    containers: [web]
    volumes: [data]
${body}`;

/** `section` (top-level YAML) from line 1, followed by a valid definition. */
const top = (section: string) => `${section}\n${std()}`;

const pg = (body: string) => `backupDefinitions:
  - name: db
    type: postgresqldatabase
${body}`;

interface Expected {
  path: string;
  message: RegExp;
  line?: number;
  column?: number;
}

interface Case {
  name: string;
  yaml: string;
  env?: Record<string, string>;
  expect: Expected[];
}

const cases: Case[] = [
  // YAML syntax
  {
    name: 'tab indentation',
    yaml: 'backupDefinitions:\n\t- name: a\n',
    expect: [{ path: '', line: 2, column: 1, message: /invalid YAML: Tabs are not allowed/ }],
  },
  {
    name: 'unclosed quote',
    yaml: 'host: "local\nbackupDefinitions: []\n',
    expect: [{ path: '', message: /invalid YAML: .*quote/ }],
  },
  {
    name: 'duplicate mapping key',
    yaml: std('    volumes: [other]'),
    expect: [{ path: '', line: 6, column: 5, message: /invalid YAML: Map keys must be unique/ }],
  },
  // wrong types and missing keys
  {
    name: 'root is a list',
    yaml: '- a\n- b\n',
    expect: [{ path: '', message: /expected a mapping \(key: value\), got a list/ }],
  },
  {
    name: 'empty document',
    yaml: '',
    expect: [{ path: 'backupDefinitions', message: /required, but missing/ }],
  },
  {
    name: 'empty backupDefinitions',
    yaml: 'backupDefinitions: []\n',
    expect: [{ path: 'backupDefinitions', line: 1, column: 20, message: /at least one backup definition/ }],
  },
  {
    name: 'backupDefinitions not a list',
    yaml: 'backupDefinitions: {}\n',
    expect: [{ path: 'backupDefinitions', message: /expected a list, got a mapping/ }],
  },
  {
    name: 'missing definition name',
    yaml: 'backupDefinitions:\n  - type: standard\n    volumes: [v]\n',
    expect: [{ path: 'backupDefinitions[0].name', line: 2, column: 5, message: /required, but missing/ }],
  },
  {
    name: 'containers is a string',
    yaml: std().replace('containers: [web]', 'containers: web'),
    expect: [
      { path: 'backupDefinitions[0].containers', line: 4, column: 17, message: /expected a list, got "web"/ },
    ],
  },
  {
    name: 'stopTimeoutSeconds is text',
    yaml: top('stopTimeoutSeconds: soon'),
    expect: [{ path: 'stopTimeoutSeconds', line: 1, column: 21, message: /expected a number, got "soon"/ }],
  },
  {
    name: 'paused is not a boolean',
    yaml: std('    schedule: { every: 1h, paused: "yes" }'),
    expect: [{ path: 'backupDefinitions[0].schedule.paused', message: /expected true or false, got "yes"/ }],
  },
  // unknown keys with suggestions, at several depths
  {
    name: 'unknown top-level key',
    yaml: 'backupDefinition:\n  - name: a\n' + std(),
    expect: [
      {
        path: 'backupDefinition',
        line: 1,
        column: 1,
        message: /unknown key "backupDefinition" \(did you mean "backupDefinitions"\?\)/,
      },
    ],
  },
  {
    name: 'unknown key in a definition',
    yaml: std('    volumnes: [x]'),
    expect: [
      {
        path: 'backupDefinitions[0].volumnes',
        line: 6,
        column: 5,
        message: /unknown key "volumnes" \(did you mean "volumes"\?\)/,
      },
    ],
  },
  {
    name: 'unknown key in s3',
    yaml: top('s3:\n  bukcet: b'),
    expect: [{ path: 's3.bukcet', line: 2, column: 3, message: /did you mean "bucket"/ }],
  },
  {
    name: 'unknown key in schedule',
    yaml: std('    schedule: { every: 1h, timezne: UTC }'),
    expect: [
      {
        path: 'backupDefinitions[0].schedule.timezne',
        line: 6,
        column: 28,
        message: /did you mean "timezone"/,
      },
    ],
  },
  {
    name: 'unknown key in a hook',
    yaml: std('    hooks:\n      preStop:\n        - container: web\n          comand: [ls]'),
    expect: [
      {
        path: 'backupDefinitions[0].hooks.preStop[0].comand',
        line: 9,
        column: 11,
        message: /did you mean "command"/,
      },
    ],
  },
  {
    name: 'unknown key in temporal without a close match',
    yaml: top('temporal: { zzzzzz: 1 }'),
    expect: [{ path: 'temporal.zzzzzz', message: /^unknown key "zzzzzz"$/ }],
  },
  // definition rules
  {
    name: 'duplicate definition names',
    yaml: `${std()}  - name: other\n    type: standard\n    volumes: [v]\n  - name: app\n    type: standard\n    volumes: [v]\n`,
    expect: [
      {
        path: 'backupDefinitions[2].name',
        line: 9,
        column: 11,
        message: /duplicate name "app" \(also backupDefinitions\[0\]\)/,
      },
    ],
  },
  {
    name: 'standard with no volumes',
    yaml: std().replace('volumes: [data]', 'volumes: []'),
    expect: [
      { path: 'backupDefinitions[0].volumes', line: 5, column: 14, message: /needs at least one volume/ },
    ],
  },
  {
    name: 'postgres with two containers',
    yaml: pg('    containers: [a, b]'),
    expect: [
      {
        path: 'backupDefinitions[0].containers',
        line: 4,
        column: 17,
        message: /exactly one container.*got 2/,
      },
    ],
  },
  {
    name: 'postgres with no container',
    yaml: pg('    volumes: []'),
    expect: [{ path: 'backupDefinitions[0].containers', message: /exactly one container.*got 0/ }],
  },
  {
    name: 'postgres with volumes',
    yaml: pg('    containers: [pg]\n    volumes: [pgdata]'),
    expect: [{ path: 'backupDefinitions[0].volumes', line: 5, column: 14, message: /takes no volumes/ }],
  },
  {
    name: 'postgres dumps stored in chunks, compressed by pg_dump',
    yaml: pg("    containers: [pg]\n    postgres: { storage: chunked, extraArgs: ['-Z', '5'] }"),
    expect: [
      {
        path: 'backupDefinitions[0].postgres.extraArgs',
        message: /storage: chunked dumps with --compress=0.*remove the compression option from extraArgs/,
      },
    ],
  },
  {
    name: 'postgres dump storage misspelt',
    yaml: pg('    containers: [pg]\n    postgres: { storage: chunk }'),
    expect: [{ path: 'backupDefinitions[0].postgres.storage', message: /"object".*"chunked"/ }],
  },
  {
    name: 'postgres section on a standard definition',
    yaml: std('    postgres: { globals: false }'),
    expect: [
      {
        path: 'backupDefinitions[0].postgres',
        line: 6,
        column: 5,
        message: /only apply to type "postgresqldatabase"/,
      },
    ],
  },
  {
    name: 'unknown type with suggestion',
    yaml: std().replace('type: standard', 'type: standrad'),
    expect: [
      {
        path: 'backupDefinitions[0].type',
        line: 3,
        column: 11,
        message:
          /expected one of "standard", "postgresqldatabase".*got "standrad" \(did you mean "standard"\?\)/,
      },
    ],
  },
  {
    name: 'uppercase name',
    yaml: std().replace('name: app', 'name: App'),
    expect: [
      {
        path: 'backupDefinitions[0].name',
        line: 2,
        column: 11,
        message: /lowercase letters, digits.*got "App"/,
      },
    ],
  },
  {
    name: 'slash in name',
    yaml: std().replace('name: app', 'name: a/b'),
    expect: [{ path: 'backupDefinitions[0].name', message: /got "a\/b"/ }],
  },
  {
    name: 'space in name',
    yaml: std().replace('name: app', 'name: "my app"'),
    expect: [{ path: 'backupDefinitions[0].name', message: /got "my app"/ }],
  },
  {
    name: 'name too long',
    yaml: std().replace('name: app', `name: ${'a'.repeat(64)}`),
    expect: [{ path: 'backupDefinitions[0].name', message: /1-63 characters/ }],
  },
  {
    name: 'bad container name',
    yaml: std().replace('[web]', '[web, -bad]'),
    expect: [
      {
        path: 'backupDefinitions[0].containers[1]',
        line: 4,
        column: 23,
        message: /a container name must be letters, digits.*got "-bad"/,
      },
    ],
  },
  {
    name: 'bad volume name',
    yaml: std().replace('[data]', '["my vol"]'),
    expect: [{ path: 'backupDefinitions[0].volumes[0]', message: /a volume name must be.*got "my vol"/ }],
  },
  {
    name: 'duplicate volume',
    yaml: std().replace('[data]', '[data, data]'),
    expect: [
      {
        path: 'backupDefinitions[0].volumes[1]',
        line: 5,
        column: 21,
        message: /duplicate volume "data" \(also backupDefinitions\[0\]\.volumes\[0\]\)/,
      },
    ],
  },
  {
    name: 'hook in a container the definition does not manage',
    yaml: std('    hooks:\n      postStart:\n        - { container: other, command: ls }'),
    expect: [
      {
        path: 'backupDefinitions[0].hooks.postStart[0].container',
        line: 8,
        column: 24,
        message: /"other" is not in this definition's containers/,
      },
    ],
  },
  // schedules and durations
  {
    name: 'cron minute out of range',
    yaml: std('    schedule: { cron: "61 * * * *" }'),
    expect: [
      {
        path: 'backupDefinitions[0].schedule.cron',
        line: 6,
        column: 23,
        message: /minute field "61": 61 is out of range 0-59/,
      },
    ],
  },
  {
    name: 'cron in words',
    yaml: std('    schedule: { cron: "every day" }'),
    expect: [{ path: 'backupDefinitions[0].schedule.cron', message: /has 2 fields; expected 5/ }],
  },
  {
    name: 'cron list with one bad entry',
    yaml: std('    schedule:\n      cron: ["0 3 * * *", "0 25 * * *"]'),
    expect: [
      { path: 'backupDefinitions[0].schedule.cron[1]', line: 7, column: 27, message: /hour field "25"/ },
    ],
  },
  {
    name: 'cron unknown shorthand',
    yaml: std('    schedule: { cron: "@fortnightly" }'),
    expect: [{ path: 'backupDefinitions[0].schedule.cron', message: /not a known shorthand/ }],
  },
  {
    name: 'cron bad month name',
    yaml: std('    schedule: { cron: "0 0 1 foo *" }'),
    expect: [{ path: 'backupDefinitions[0].schedule.cron', message: /month field "foo"/ }],
  },
  {
    name: 'schedule without cron or every',
    yaml: std('    schedule: { paused: true }'),
    expect: [{ path: 'backupDefinitions[0].schedule', message: /needs "cron" or "every"/ }],
  },
  {
    name: 'bad timezone',
    yaml: std('    schedule: { every: 1d, timezone: Mars/Olympus }'),
    expect: [{ path: 'backupDefinitions[0].schedule.timezone', message: /IANA time zone.*"Mars\/Olympus"/ }],
  },
  {
    name: 'bad interval',
    yaml: std('    schedule: { every: "5 minutes" }'),
    expect: [{ path: 'backupDefinitions[0].schedule.every', message: /expected a duration like/ }],
  },
  {
    name: 'bad jitter unit',
    yaml: std('    schedule: { every: 1h, jitter: 10x }'),
    expect: [{ path: 'backupDefinitions[0].schedule.jitter', message: /unknown duration unit "x"/ }],
  },
  {
    name: 'seconds in keepWithin',
    yaml: top('retention: { keepWithin: 30s }'),
    expect: [
      { path: 'retention.keepWithin', line: 1, column: 26, message: /unknown duration unit "s".*m = months/ },
    ],
  },
  // environment
  {
    name: 'missing env var',
    yaml: top('s3:\n  bucket: ${S3_BUCKET}'),
    expect: [
      { path: 's3.bucket', line: 2, column: 11, message: /environment variable S3_BUCKET is not set/ },
    ],
  },
  {
    name: 'malformed reference',
    yaml: top('host: ${1BAD}'),
    expect: [{ path: 'host', message: /not a valid reference/ }],
  },
  // secrets and encryption
  {
    name: 'accessKeyId in s3',
    yaml: top('s3:\n  accessKeyId: AKIA123'),
    expect: [
      {
        path: 's3.accessKeyId',
        line: 2,
        column: 3,
        message: /secrets never live in the config file.*environment/,
      },
    ],
  },
  {
    name: 'secretAccessKey in s3',
    yaml: top('s3: { secretAccessKey: abc }'),
    expect: [{ path: 's3.secretAccessKey', message: /secrets never live in the config file/ }],
  },
  {
    name: 'an API key in temporal',
    yaml: top('temporal:\n  apiKey: eyJhbGciOi'),
    expect: [{ path: 'temporal.apiKey', message: /secrets never live in the config file.*TEMPORAL_API_KEY/ }],
  },
  {
    name: 'both temporal.apiKeyFile and apiKeyEnv',
    yaml: top('temporal: { apiKeyFile: /run/secrets/key, apiKeyEnv: MY_KEY }'),
    expect: [{ path: 'temporal.apiKeyEnv', message: /apiKeyFile or apiKeyEnv, not both/ }],
  },
  {
    name: 'temporal.apiKeyEnv that is not a variable name',
    yaml: top('temporal: { apiKeyEnv: "$MY_KEY" }'),
    expect: [{ path: 'temporal.apiKeyEnv', message: /name of an environment variable/ }],
  },
  {
    name: 'a client certificate without its key',
    yaml: top('temporal:\n  tls: { certFile: /etc/dockvault/client.pem }'),
    expect: [{ path: 'temporal.tls.keyFile', message: /certFile and keyFile go together/ }],
  },
  {
    name: 'a typo in temporal.tls',
    yaml: top('temporal:\n  tls: { caFlie: /etc/ca.pem }'),
    expect: [{ path: 'temporal.tls.caFlie', message: /unknown key "caFlie".*caFile/ }],
  },
  {
    name: 'bad age recipient',
    yaml: top('encryption: { recipients: [age1short] }'),
    expect: [
      {
        path: 'encryption.recipients[0]',
        line: 1,
        column: 28,
        message: /age X25519 public key.*got "age1short"/,
      },
    ],
  },
  {
    name: 'private identity as recipient',
    yaml: top('encryption: { recipients: [AGE-SECRET-KEY-1QQQ] }'),
    expect: [
      {
        path: 'encryption.recipients[0]',
        message: /^this is a private age identity: never put it in the config file/,
      },
    ],
  },
  // compression and numbers
  {
    name: 'zstd level too high',
    yaml: top('compression: { level: 20 }'),
    expect: [
      {
        path: 'compression.level',
        line: 1,
        column: 23,
        message: /level 20 is out of range for zstd \(1-19\)/,
      },
    ],
  },
  {
    name: 'gzip level too high',
    yaml: top('compression: { algorithm: gzip, level: 10 }'),
    expect: [{ path: 'compression.level', message: /out of range for gzip \(1-9\)/ }],
  },
  {
    name: 'definition level out of range for inherited gzip',
    yaml: `compression: { algorithm: gzip }\n${std('    compression: { level: 12 }')}`,
    expect: [{ path: 'backupDefinitions[0].compression.level', message: /out of range for gzip/ }],
  },
  {
    name: 'unknown compression algorithm',
    yaml: top('compression: { algorithm: zst }'),
    expect: [
      {
        path: 'compression.algorithm',
        message: /expected one of "zstd", "gzip", "none".*did you mean "zstd"/,
      },
    ],
  },
  {
    name: 'negative stopTimeoutSeconds',
    yaml: top('stopTimeoutSeconds: -5'),
    expect: [{ path: 'stopTimeoutSeconds', message: /expected a number >= 0, got -5/ }],
  },
  {
    name: 'negative keepDaily',
    yaml: std('    retention: { keepDaily: -1 }'),
    expect: [{ path: 'backupDefinitions[0].retention.keepDaily', message: />= 0/ }],
  },
  {
    name: 'partSizeMiB below 5',
    yaml: top('s3: { partSizeMiB: 4 }'),
    expect: [{ path: 's3.partSizeMiB', message: /at least 5 MiB/ }],
  },
  {
    name: 'queueSize above 32',
    yaml: top('s3: { queueSize: 64 }'),
    expect: [{ path: 's3.queueSize', message: /expected a number <= 32, got 64/ }],
  },
  {
    name: 'prefix with a leading slash',
    yaml: top('s3: { prefix: /backups }'),
    expect: [{ path: 's3.prefix', message: /without leading, trailing or double "\/"/ }],
  },
  {
    name: 'bad object lock mode',
    yaml: top('s3: { objectLock: { mode: governance, days: 7 } }'),
    expect: [
      {
        path: 's3.objectLock.mode',
        message: /expected one of "GOVERNANCE", "COMPLIANCE".*did you mean "GOVERNANCE"/,
      },
    ],
  },
  // staging and notifications
  {
    name: 'staging typo',
    yaml: top('staging: nonee'),
    expect: [{ path: 'staging', line: 1, column: 10, message: /expected "none" or a mapping.*got "nonee"/ }],
  },
  {
    name: 'staging dir mapping with a bad value',
    yaml: top('staging: { minFreeMiB: lots }'),
    expect: [{ path: 'staging.minFreeMiB', message: /expected a number, got "lots"/ }],
  },
  {
    name: 'stale webhook without staleAfter',
    yaml: top('notifications:\n  webhooks:\n    - { url: "https://x.example/h", on: [stale] }'),
    expect: [{ path: 'notifications.webhooks[0].staleAfter', message: /staleAfter is required/ }],
  },
  {
    name: 'after names an unknown definition',
    yaml: std('    after: [dbb]\n'),
    expect: [
      { path: 'backupDefinitions[0].after[0]', message: /no backup definition named "dbb"; defined: app/ },
    ],
  },
  {
    name: 'after names the definition itself',
    yaml: std('    after: [app]\n'),
    expect: [{ path: 'backupDefinitions[0].after[0]', message: /cannot run after itself/ }],
  },
  {
    name: 'after makes a cycle',
    yaml: `${std('    after: [db]\n')}  - name: db\n    type: postgres\n    containers: [pg]\n    after: [app]\n`,
    expect: [{ path: 'backupDefinitions[0].after', message: /"after" makes a cycle: app -> db -> app/ }],
  },
  {
    name: 'top-level schedule without cron or every',
    yaml: top('schedule: { timezone: UTC }'),
    expect: [{ path: 'schedule', message: /needs "cron" or "every"/ }],
  },
  {
    name: 'webhook url is not http',
    yaml: top('notifications: { webhooks: [{ url: "ftp://x" }] }'),
    expect: [{ path: 'notifications.webhooks[0].url', message: /http\(s\) URL/ }],
  },
];

function parseError(yaml: string, env: Record<string, string> = {}): ConfigError {
  try {
    parseConfig(yaml, 'dockvault.yml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the document to be rejected');
}

describe('malformed documents', () => {
  for (const c of cases) {
    it(c.name, () => {
      const err = parseError(c.yaml, c.env);
      for (const expected of c.expect) {
        const issue = err.issues.find((i) => i.path === expected.path && expected.message.test(i.message));
        assert.ok(issue, `no issue at ${expected.path} matching ${expected.message}; got:\n${err.message}`);
        if (expected.line !== undefined) assert.equal(issue.line, expected.line, err.message);
        if (expected.column !== undefined) assert.equal(issue.column, expected.column, err.message);
      }
    });
  }

  it('has at least 35 cases', () => {
    assert.ok(cases.length >= 35);
  });
});

describe('ConfigError', () => {
  it('reports every problem at once, in document order, one line each', () => {
    const err = parseError(`host: "bad host"
backupDefinitions:
  - name: App
    type: standrad
    containers: [web]
    volumes: []
    volumnes: [data]
  - name: db
    type: postgres
    containers: [a, b]
`);
    assert.ok(err.issues.length >= 3, err.message);
    const lines = err.message.split('\n');
    assert.equal(lines[0], `dockvault.yml: ${err.issues.length} errors`);
    assert.equal(lines.length, err.issues.length + 1);
    assert.match(
      err.message,
      /^dockvault\.yml:4:11 backupDefinitions\[0\]\.type: expected one of "standard", "postgresqldatabase"/m,
    );
    assert.match(
      err.message,
      /^dockvault\.yml:7:5 backupDefinitions\[0\]\.volumnes: unknown key "volumnes" \(did you mean "volumes"\?\)$/m,
    );
    const positions = err.issues.map((i) => (i.line ?? 0) * 1000 + (i.column ?? 0));
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
    );
    assert.equal(err.file, 'dockvault.yml');
  });

  it('names the file and says "1 error" for one problem', () => {
    const err = parseError('backupDefinitions: []\n');
    assert.equal(
      err.message,
      'dockvault.yml: 1 error\ndockvault.yml:1:20 backupDefinitions: expected at least one backup definition',
    );
  });

  it('never echoes a private age identity', () => {
    const secret = generateIdentity().identity;
    const err = parseError(top(`encryption: { recipients: [${secret}] }`));
    assert.ok(!err.message.includes(secret));
  });

  it('reports an unset variable once, not also as the type error it causes', () => {
    const err = parseError(top('stopTimeoutSeconds: ${STOP}'));
    assert.equal(err.issues.length, 1, err.message);
    assert.match(err.message, /stopTimeoutSeconds: environment variable STOP is not set/);
  });
});
