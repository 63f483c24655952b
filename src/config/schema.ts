import { z } from 'zod';
import { DEFAULT_HOST_CONCURRENCY, resolveConfig } from './resolve.ts';
import {
  ageRecipient,
  composeProjectName,
  cronString,
  definitionName,
  dockerName,
  filePath,
  hostName,
  httpUrl,
  interval,
  nonNegativeInt,
  oneOrMany,
  positiveInt,
  retentionWindow,
  shown,
  timeZone,
} from './schema-fields.ts';
import { didYouMean } from './suggest.ts';
import { userCompressionLevel } from '../postgres/compression.ts';

/**
 * The single definition of dockvault.yml. Objects are strict so a typo is an error, never a silently
 * ignored option. Nested sections use `prefault` (not `default`) so their own defaults are filled too.
 */

export const DEFAULT_HOST = 'local';
export const DEFAULT_STAGING_DIR = '/var/lib/dockvault/staging';
export const DEFAULT_CHUNK_GRACE = '25h';
export const COMPRESSION_LEVELS = {
  zstd: { min: 1, max: 19, default: 3 },
  gzip: { min: 1, max: 9, default: 6 },
  none: { min: 0, max: 0, default: 0 },
} as const;

export const temporalTlsSchema = z
  .union([
    z.boolean(),
    z
      .strictObject({
        caFile: filePath
          .optional()
          .describe("PEM CA that signed the server's certificate; default: the system's trusted CAs."),
        certFile: filePath.optional().describe('PEM client certificate (mTLS), with keyFile.'),
        keyFile: filePath.optional().describe('PEM private key of the client certificate.'),
        serverName: z
          .string()
          .min(1)
          .optional()
          .describe("Name the server's certificate must carry, when it is not the address's host."),
      })
      .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
        error: 'certFile and keyFile go together: set both for mTLS, or neither',
        path: ['keyFile'],
      }),
  ])
  .describe(
    'TLS to the Temporal frontend: true (system CAs), or files. Default: off, on when an API key is set. ' +
      'Unset fields fall back to env TEMPORAL_TLS_CA_PATH, TEMPORAL_TLS_CERT_PATH, TEMPORAL_TLS_KEY_PATH, TEMPORAL_TLS_SERVER_NAME.',
  );

export const temporalSchema = z
  .strictObject({
    address: z.string().min(1).default('127.0.0.1:7233').describe('Temporal frontend host:port.'),
    namespace: z.string().min(1).default('default'),
    taskQueue: z.string().min(1).default('dockvault').describe('Task queue of the workflows.'),
    uiUrl: httpUrl.default('http://127.0.0.1:8233').describe('Temporal Web UI, for links in output.'),
    tls: temporalTlsSchema.optional(),
    apiKeyFile: filePath
      .optional()
      .describe('File holding the API key (Temporal Cloud), read by each process.'),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected the name of an environment variable' })
      .optional()
      .describe(
        'Environment variable holding the API key; default TEMPORAL_API_KEY (or TEMPORAL_API_KEY_FILE).',
      ),
  })
  .refine((t) => t.apiKeyFile === undefined || t.apiKeyEnv === undefined, {
    error: 'set apiKeyFile or apiKeyEnv, not both',
    path: ['apiKeyEnv'],
  })
  .describe(
    'Temporal connection. Secrets never live here: the API key and the TLS key are read from files or the environment.',
  );

export const s3Schema = z
  .strictObject({
    bucket: z.string().min(3).max(63).default('dockvault'),
    prefix: z
      .string()
      .regex(/^(?!\/)(?!.*\/$)(?!.*\/\/)/, {
        error: 'expected a key prefix without leading, trailing or double "/"',
      })
      .default('backups')
      .describe(
        'Key prefix, no leading or trailing slash; objects go to <prefix>/<definition>/<backup-id>/.',
      ),
    endpoint: z
      .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
      .optional()
      .describe('S3 endpoint URL; when absent the AWS SDK default (or AWS_ENDPOINT_URL_S3) applies.'),
    region: z.string().min(1).default('us-east-1'),
    forcePathStyle: z.boolean().optional().describe('Default: true when endpoint is set, else false.'),
    partSizeMiB: z
      .int()
      .min(5, { error: 'S3 multipart parts must be at least 5 MiB' })
      .default(8)
      .describe('Size of the first parts; larger objects get larger parts (10,000 parts at most).'),
    queueSize: z
      .int()
      .min(1)
      .max(32)
      .default(2)
      .describe('Parallel part uploads per object; the worker holds queueSize + 1 parts in memory.'),
    objectLock: z
      .strictObject({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), days: positiveInt })
      .optional()
      .describe('Object Lock retention applied to every uploaded object.'),
    chunkGrace: interval
      .prefault(DEFAULT_CHUNK_GRACE)
      .describe(
        `How long prune waits before deleting a chunk no backup uses any more (volumeFormat: chunked, postgres.storage: chunked): at least as long as the longest run of any definition writing to this bucket and prefix, from any host, because a running backup may reuse a chunk before its manifest exists. Default ${DEFAULT_CHUNK_GRACE}: a day plus an hour of margin; must not be shorter than any definition's timeoutMinutes.`,
      ),
  })
  .transform(({ forcePathStyle, chunkGrace, ...rest }) => ({
    ...rest,
    forcePathStyle: forcePathStyle ?? rest.endpoint !== undefined,
    chunkGraceMs: chunkGrace,
  }))
  .describe(
    'S3 target. Credentials never live here: they come from the environment or the AWS credential chain.',
  );

export const encryptionSchema = z
  .strictObject({
    recipients: z.array(ageRecipient).default([]).describe('age public keys every backup is encrypted to.'),
    recipientsFile: filePath.optional().describe('File with one age public key per line (worker-side path).'),
    identityFile: filePath.optional().describe('Private age identity file, needed only where restores run.'),
  })
  .describe('age encryption. Recipients can also come from env DOCKVAULT_AGE_RECIPIENTS.');

const stagingDirSchema = z.strictObject({
  dir: filePath.default(DEFAULT_STAGING_DIR),
  minFreeMiB: nonNegativeInt.default(1024).describe('Refuse to stop containers when less is free.'),
});

export const stagingSchema = z
  .union([z.literal('none'), stagingDirSchema])
  .transform((v) =>
    v === 'none'
      ? { mode: 'streaming' as const }
      : { mode: 'staged' as const, dir: v.dir, minFreeMiB: v.minFreeMiB },
  )
  .describe(
    'Local staging (short downtime), or "none" to stream (containers stay stopped until upload ends).',
  );

/** Level validity depends on the effective algorithm, which may be inherited: checked in rules.ts. */
export const compressionSchema = z.strictObject({
  algorithm: z.enum(['zstd', 'gzip', 'none']).optional().describe('Default zstd.'),
  level: z.int().optional().describe('zstd 1..19 (default 3), gzip 1..9 (default 6).'),
});

export const volumeFormatSchema = z
  .enum(['archive', 'chunked'])
  .describe(
    'How standard backups store volumes: archive (one age(zstd(tar)) object per volume) or chunked (deduplicated, encrypted chunks shared by the prefix; docs/FORMAT.md).',
  );

export const retentionSchema = z
  .strictObject({
    keepLast: nonNegativeInt.optional(),
    keepHourly: nonNegativeInt.optional(),
    keepDaily: nonNegativeInt.optional(),
    keepWeekly: nonNegativeInt.optional(),
    keepMonthly: nonNegativeInt.optional(),
    keepYearly: nonNegativeInt.optional(),
    keepWithin: retentionWindow.optional(),
  })
  .describe('Which backups prune keeps (restic semantics). Empty: keep everything.');

export const webhookSchema = z
  .strictObject({
    url: httpUrl,
    format: z.enum(['json', 'slack']).default('json'),
    on: z
      .array(z.enum(['failure', 'success', 'stale']))
      .min(1)
      .default(['failure']),
    staleAfter: interval
      .optional()
      .describe('A definition is stale when its last backup is older than this.'),
  })
  .refine((w) => !w.on.includes('stale') || w.staleAfter !== undefined, {
    error: 'staleAfter is required when "on" includes "stale"',
    path: ['staleAfter'],
  });

export const notificationsSchema = z.strictObject({ webhooks: z.array(webhookSchema).default([]) });

export const scheduleSchema = z
  .strictObject({
    cron: oneOrMany(cronString).optional(),
    every: oneOrMany(interval).optional().describe('Fixed intervals, e.g. `6h`.'),
    timezone: timeZone.optional(),
    jitter: interval.optional(),
    overlap: z
      .enum(['skip', 'bufferOne', 'bufferAll', 'cancelOther', 'terminateOther', 'allowAll'])
      .default('skip')
      .describe('Temporal schedule overlap policy.'),
    catchupWindow: interval.optional(),
    pauseOnFailure: z.boolean().default(false),
    paused: z.boolean().default(false),
  })
  .refine((s) => s.cron !== undefined || s.every !== undefined, {
    error: 'a schedule needs "cron" or "every"',
  })
  .transform(({ cron, every, ...rest }) => ({ cron: cron ?? [], every: every ?? [], ...rest }))
  .describe('Temporal Schedule, created by `dockvault schedules sync`.');

export const hookSchema = z
  .strictObject({
    container: dockerName('a container name'),
    command: z
      .union([z.string().min(1), z.array(z.string()).min(1)])
      .describe('argv list, or a string run with `sh -c`.'),
    timeoutSeconds: positiveInt.default(60),
    user: z.string().min(1).optional(),
  })
  .transform(({ command, ...rest }) => ({
    ...rest,
    command: typeof command === 'string' ? ['sh', '-c', command] : command,
  }));

export const hooksSchema = z
  .strictObject({ preStop: z.array(hookSchema).default([]), postStart: z.array(hookSchema).default([]) })
  .describe('Commands run inside containers before they are stopped and after they are started.');

export const postgresSchema = z
  .strictObject({
    databases: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Databases to dump. Default: all, discovered at run time.'),
    globals: z
      .boolean()
      .default(true)
      .describe('Also dump roles and tablespaces (pg_dumpall --globals-only).'),
    user: z.string().min(1).default('postgres').describe('OS user pg_dump runs as inside the container.'),
    dbUser: z.string().min(1).optional().describe('Database role (pg_dump -U).'),
    passwordFile: filePath.optional().describe('Worker-side file with the database password.'),
    format: z.enum(['custom', 'plain']).default('custom'),
    extraArgs: z.array(z.string()).default([]),
    storage: z
      .enum(['object', 'chunked'])
      .default('object')
      .describe(
        'How each database dump is stored: object (one age-encrypted object per database, compressed by pg_dump) or chunked (pg_dump --compress=0 cut into deduplicated, compressed, encrypted chunks shared by the prefix, as volumeFormat: chunked; a day-to-day dump mostly reuses the chunks of the one before; docs/FORMAT.md). The globals are one object either way.',
      ),
    timeoutMinutes: positiveInt.optional().describe('Upper bound of one database dump.'),
  })
  .superRefine((pg, ctx) => {
    // Chunks deduplicate only if an unchanged row gives unchanged bytes: pg_dump's compression would
    // make every byte after the first change new; each chunk is compressed by dockvault instead.
    if (pg.storage === 'chunked' && (userCompressionLevel(pg.extraArgs) ?? 0) !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['extraArgs'],
        message:
          'storage: chunked dumps with --compress=0 (dockvault compresses each chunk): remove the compression option from extraArgs, or use storage: object',
      });
    }
  })
  .transform(({ databases, ...rest }) => ({ databases: databases ?? ('all' as const), ...rest }));

export const composeSelectorSchema = z
  .strictObject({
    project: composeProjectName.describe(
      'The compose project (`docker compose ls`, label com.docker.compose.project).',
    ),
    services: z
      .array(dockerName('a service name'))
      .min(1, { error: 'expected at least one service; omit "services" to select every service' })
      .optional()
      .describe('Services of the project, every replica of each. Default: every service.'),
  })
  .describe(
    "Selects the containers of a compose project on the host at run time; they stop in dependency order (depends_on, network_mode service:): dependents first. Volume names are the compose file's (project_volume).",
  );

/** YAML reads `true` and `1` as non-strings; label values are strings to Docker. */
const labelValue = z.union([z.string(), z.number(), z.boolean()]).transform(String);

export const labelSelectorSchema = z
  .record(z.string().min(1), labelValue)
  .refine((labels) => Object.keys(labels).length > 0, { error: 'expected at least one label' })
  .describe('Selects the containers that carry every one of these labels with these values.');

export const definitionSchema = z.strictObject({
  name: definitionName,
  type: z
    .enum(['standard', 'postgresqldatabase', 'postgres'], {
      error: (i) =>
        `expected one of "standard", "postgresqldatabase" (alias "postgres"), got ${shown(i.input)}${typeof i.input === 'string' ? didYouMean(i.input, ['standard', 'postgresqldatabase']) : ''}`,
    })
    .transform((t) => (t === 'postgres' ? 'postgresqldatabase' : t))
    .describe(
      'standard: stop containers, archive volumes, restart. postgresqldatabase (alias postgres): pg_dump.',
    ),
  containers: z
    .array(dockerName('a container name'))
    .default([])
    .describe(
      'Stopped in this order, restarted in reverse; with compose or labels, these stop first, then the selected ones.',
    ),
  compose: composeSelectorSchema.optional(),
  labels: labelSelectorSchema.optional(),
  volumes: z
    .array(dockerName('a volume name'))
    .default([])
    .describe("With compose, a name is first the project's volume of that name (<project>_<name>)."),
  host: hostName.optional(),
  stopTimeoutSeconds: nonNegativeInt.optional(),
  staging: stagingSchema.optional(),
  compression: compressionSchema.optional(),
  volumeFormat: volumeFormatSchema.optional(),
  retention: retentionSchema.optional(),
  recipients: z
    .array(ageRecipient)
    .min(1)
    .optional()
    .describe('Replaces encryption.recipients for this definition.'),
  schedule: scheduleSchema.optional(),
  hooks: hooksSchema.prefault({}),
  postgres: postgresSchema.prefault({}).describe('Only for postgresqldatabase definitions.'),
  timeoutMinutes: positiveInt.optional().describe('Upper bound for a whole run.'),
  after: z
    .array(definitionName)
    .default([])
    .describe('In a run of several definitions, start this one only once these have ended.'),
});

export const hostSettingsSchema = z
  .strictObject({
    concurrency: positiveInt
      .default(DEFAULT_HOST_CONCURRENCY)
      .describe(
        `Data-moving steps (archive and upload, pg_dump and upload, restore extraction) that run at once on this host, whoever started them; the others wait for a slot without stopping anything. Default ${DEFAULT_HOST_CONCURRENCY}: a small server's two cores and one disk are busy with two streams, and a third would only lengthen everyone's downtime.`,
      ),
  })
  .describe('Limits of one Docker host.');

export const rawConfigSchema = z.strictObject({
  $schema: z.string().optional().describe('Editor hint, ignored.'),
  host: hostName.default(DEFAULT_HOST),
  temporal: temporalSchema.prefault({}),
  s3: s3Schema.prefault({}),
  encryption: encryptionSchema.prefault({}),
  staging: stagingSchema.prefault({}),
  compression: compressionSchema.prefault({}),
  volumeFormat: volumeFormatSchema.default('archive'),
  stopTimeoutSeconds: nonNegativeInt.default(30).describe('Grace period for docker stop.'),
  retention: retentionSchema.prefault({}),
  notifications: notificationsSchema.prefault({}),
  schedule: scheduleSchema
    .optional()
    .describe('Runs every definition as one backup run (`dockvault run --all`) on a Temporal Schedule.'),
  workerWait: interval
    .prefault('10m')
    .describe(
      'How long a backup waits for its host\'s worker before failing with "no worker for host"; a run never stops containers later than this after it was due because its worker was missing (waiting for a host slot is bounded by timeoutMinutes instead).',
    ),
  parallel: z
    .boolean()
    .default(false)
    .describe('In a run of several definitions, start them together (each still waits for its "after").'),
  hosts: z
    .record(hostName, hostSettingsSchema)
    .default({})
    .describe(
      'Per-host limits, by host name. A host no definition uses is allowed (its worker may serve restores).',
    ),
  backupDefinitions: z.array(definitionSchema).min(1, { error: 'expected at least one backup definition' }),
});

export const configSchema = rawConfigSchema.transform(resolveConfig);

export type RawConfig = z.output<typeof rawConfigSchema>;
export type RawDefinition = z.output<typeof definitionSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type BackupDefinition = Config['backupDefinitions'][number];
export type StandardDefinition = Extract<BackupDefinition, { type: 'standard' }>;
export type PostgresDefinition = Extract<BackupDefinition, { type: 'postgresqldatabase' }>;
export type TemporalSettings = z.output<typeof temporalSchema>;
export type S3Settings = z.output<typeof s3Schema>;
export type EncryptionSettings = z.output<typeof encryptionSchema>;
export type Staging = z.output<typeof stagingSchema>;
export type Compression = BackupDefinition['compression'];
export type Retention = z.output<typeof retentionSchema>;
export type Webhook = z.output<typeof webhookSchema>;
export type Schedule = z.output<typeof scheduleSchema>;
export type Hook = z.output<typeof hookSchema>;
export type HostSettings = z.output<typeof hostSettingsSchema>;
export type PostgresOptions = z.output<typeof postgresSchema>;
