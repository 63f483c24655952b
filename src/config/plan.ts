import { formatInterval, formatRetentionWindow } from './duration.ts';
import type { SelectorCheck } from '../selectors/check.ts';
import { describeSelector } from '../selectors/select.ts';
import type { BackupDefinition, Config, Retention, Schedule, Staging } from './schema.ts';

/** Human description of what each definition will do, printed by `dockvault config check`. */

export const RECIPIENTS_ENV = 'DOCKVAULT_AGE_RECIPIENTS';

function list(items: readonly string[]): string {
  return items.length === 0 ? '(none)' : items.join(', ');
}

function describeRetention(retention: Retention): string {
  const parts: string[] = [];
  const counts: [keyof Retention, string][] = [
    ['keepLast', 'last'],
    ['keepHourly', 'hourly'],
    ['keepDaily', 'daily'],
    ['keepWeekly', 'weekly'],
    ['keepMonthly', 'monthly'],
    ['keepYearly', 'yearly'],
  ];
  for (const [key, word] of counts) {
    const n = retention[key];
    if (typeof n === 'number') parts.push(key === 'keepLast' ? `last ${n}` : `${n} ${word}`);
  }
  if (retention.keepWithin) parts.push(`all within ${formatRetentionWindow(retention.keepWithin)}`);
  return parts.length === 0 ? 'keep everything (no retention policy)' : `keep ${parts.join(', ')}`;
}

function describeSchedule(schedule: Schedule | undefined): string {
  if (!schedule) return 'none (run on demand with `dockvault run`)';
  const when = [
    ...schedule.cron.map((c) => `cron "${c}"`),
    ...schedule.every.map((ms) => `every ${formatInterval(ms)}`),
  ];
  const extras = [
    schedule.timezone ? `timezone ${schedule.timezone}` : undefined,
    schedule.jitter !== undefined ? `jitter ${formatInterval(schedule.jitter)}` : undefined,
    `overlap ${schedule.overlap}`,
    schedule.catchupWindow !== undefined ? `catch-up ${formatInterval(schedule.catchupWindow)}` : undefined,
    schedule.pauseOnFailure ? 'pauses on failure' : undefined,
    schedule.paused ? 'PAUSED' : undefined,
  ].filter((x) => x !== undefined);
  return `${when.join('; ')} (${extras.join(', ')})`;
}

function describeStaging(staging: Staging): string {
  return staging.mode === 'streaming'
    ? 'none: streaming, containers stay stopped until the upload ends'
    : `${staging.dir} (needs ${staging.minFreeMiB} MiB free before anything is stopped)`;
}

function describeRecipients(config: Config, def: BackupDefinition): string {
  const own = def.recipients;
  if (own) return `${own.length} recipient(s) for this definition: ${own.join(', ')}`;
  const { recipients, recipientsFile } = config.encryption;
  const sources = [
    recipients.length > 0 ? `${recipients.length} recipient(s): ${recipients.join(', ')}` : undefined,
    recipientsFile ? `recipients file ${recipientsFile} (read by the worker)` : undefined,
  ].filter((x) => x !== undefined);
  if (sources.length > 0) return sources.join(' + ');
  return `WARNING: no recipients configured; backups will refuse to run until encryption.recipients, encryption.recipientsFile or env ${RECIPIENTS_ENV} is set on the worker`;
}

/** For selector definitions: what they select, and what that is on this machine's engine now. */
function describeSelection(def: BackupDefinition, check: SelectorCheck | undefined): string[] {
  if (def.compose === undefined && def.labels === undefined) return [];
  const selector = { configPath: '', compose: def.compose, labels: def.labels };
  const lines = [
    `  selects:    ${describeSelector(selector)}${def.compose && !def.compose.services ? ', every service' : ''} (resolved on host ${def.host} when a run starts)`,
  ];
  if (check === undefined) return lines;
  if ('unavailable' in check) return [...lines, `  resolves:   cannot check here: ${check.unavailable}`];
  if ('error' in check) return [...lines, `  resolves:   ERROR ${check.error}`];
  const dependencies = check.resolved.containers
    .filter((c) => c.dependsOn.length > 0)
    .map((c) => `${c.name} on ${c.dependsOn.join(', ')}`);
  const joined = check.resolved.containers
    .filter((c) => c.sharesNetworkOf !== undefined)
    .map((c) => `${c.name} (shares the network of ${c.sharesNetworkOf})`);
  return [
    ...lines,
    "  resolves:   on this machine's Docker engine now:",
    ...(joined.length > 0 ? [`  also stops: ${joined.join(', ')}`] : []),
    ...(dependencies.length > 0 ? [`  depends:    ${dependencies.join('; ')}`] : []),
  ];
}

function describeWork(def: BackupDefinition, check: SelectorCheck | undefined): string[] {
  const resolved = check && 'resolved' in check ? check.resolved : undefined;
  const selects = def.compose !== undefined || def.labels !== undefined;
  const containers = resolved ? resolved.containers.map((c) => c.name) : def.containers;
  if (def.type === 'postgresqldatabase') {
    const pg = def.postgres;
    const databases =
      pg.databases === 'all' ? 'all databases, discovered at run time' : `databases ${list(pg.databases)}`;
    const container = containers[0] ?? (selects ? '(the one the selector matches)' : '(none)');
    return [
      ...describeSelection(def, check),
      `  dumps:      ${databases}${pg.globals ? ' + globals (roles, tablespaces)' : ''}`,
      `              with pg_dump --format=${pg.format} inside container ${container} as OS user ${pg.user}${pg.dbUser ? `, role ${pg.dbUser}` : ''}`,
      ...(pg.storage === 'chunked' ? ['  dumps as:   deduplicated chunks (postgres.storage: chunked)'] : []),
    ];
  }
  const restart = [...containers].reverse();
  const unresolved = selects && !resolved;
  const stops =
    containers.length === 0
      ? unresolved
        ? '(the selected containers, dependents first)'
        : '(nothing: no containers listed)'
      : `${containers.join(' -> ')}${unresolved ? ' -> (then the selected ones, dependents first)' : ''}`;
  const volumes = resolved
    ? resolved.volumes.map((v) => (v.name === v.resolved ? v.name : `${v.name} (${v.resolved})`))
    : def.volumes;
  return [
    ...describeSelection(def, check),
    `  stops:      ${stops}`,
    `  reads:      volumes ${list(volumes)}`,
    `  restarts:   ${restart.length === 0 ? (unresolved ? '(in reverse stop order)' : '(nothing)') : `${restart.join(' -> ')}${unresolved ? ' (after the selected ones)' : ''} (only those that were running)`}`,
    `  staging:    ${describeStaging(def.staging)}`,
    ...(def.volumeFormat === 'chunked' ? ['  volumes as: deduplicated chunks (volumeFormat: chunked)'] : []),
  ];
}

function shellWords(argv: readonly string[]): string {
  return argv
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`))
    .join(' ');
}

function describeHooks(def: BackupDefinition): string[] {
  const hooks = [
    ...def.hooks.preStop.map((h) => `before stop, in ${h.container}: ${shellWords(h.command)}`),
    ...def.hooks.postStart.map((h) => `after start, in ${h.container}: ${shellWords(h.command)}`),
  ];
  return hooks.map((h) => `  hook:       ${h}`);
}

export function describeDefinition(config: Config, def: BackupDefinition, check?: SelectorCheck): string {
  const { bucket, prefix } = config.s3;
  const key = [prefix, def.name, '<backup-id>'].filter((p) => p !== '').join('/');
  const compression =
    def.compression.algorithm === 'none'
      ? 'none'
      : `${def.compression.algorithm} level ${def.compression.level}`;
  return [
    `${def.name} (${def.type})`,
    `  host:       ${def.host} (task queue ${def.taskQueue}; ${def.hostConcurrency} data-moving step(s) at once)`,
    ...describeWork(def, check),
    ...describeHooks(def),
    `  uploads to: s3://${bucket}/${key}/`,
    `  compress:   ${compression}`,
    `  encrypt:    ${describeRecipients(config, def)}`,
    `  schedule:   ${describeSchedule(def.schedule)}`,
    ...(def.after.length > 0 ? [`  in a run:   after ${def.after.join(', ')}`] : []),
    `  retention:  ${describeRetention(def.retention)}`,
  ].join('\n');
}

/**
 * `checks`: what selector definitions resolve to on this machine (see selectors/check.ts);
 * `connection`: how this machine connects to Temporal (TLS files, API key source), never a secret.
 */
export function describePlan(
  config: Config,
  checks: ReadonlyMap<string, SelectorCheck> = new Map(),
  connection?: string,
): string {
  const { temporal, s3 } = config;
  const header = [
    `Temporal ${temporal.address}, namespace ${temporal.namespace}, workflows on task queue ${temporal.taskQueue}`,
    ...(connection ? [`  connection: ${connection}`] : []),
    `S3 bucket ${s3.bucket} in ${s3.region}${s3.endpoint ? ` at ${s3.endpoint}` : ''}`,
    `backup run (run --all${config.schedule ? ', schedule dockvault-run:all' : ''}): ${config.parallel ? 'all together' : 'one after the other'}; schedule ${describeSchedule(config.schedule)}`,
    `${config.backupDefinitions.length} backup definition(s):`,
  ];
  return [
    ...header,
    '',
    config.backupDefinitions.map((d) => describeDefinition(config, d, checks.get(d.name))).join('\n\n'),
  ].join('\n');
}
