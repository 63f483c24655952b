import type { BackupDefinition, Config } from '../config/index.ts';
import type { ContainerSelector } from '../selectors/types.ts';
import type { BackupPlan } from './types.ts';

/** Only definitions with a selector carry one, so the others' plans stay what they were. */
function selectorOf(config: Config, def: BackupDefinition): { selector?: ContainerSelector } {
  if (def.compose === undefined && def.labels === undefined) return {};
  const configPath = `backupDefinitions[${config.backupDefinitions.indexOf(def)}]`;
  return { selector: { configPath, compose: def.compose, labels: def.labels } };
}

/**
 * From a loaded config to what one workflow run is asked to do. An S3 endpoint the config leaves out
 * stays out: DOCKVAULT_S3_ENDPOINT is read where the S3 client is made (src/storage/s3-client.ts), so
 * a CLI on the host and a worker in a container each reach the server at their own address.
 */
export function buildPlan(config: Config, def: BackupDefinition): BackupPlan {
  const target = { ...config.s3 };
  const base = {
    definition: def.name,
    host: def.host,
    activityTaskQueue: def.taskQueue,
    hostConcurrency: def.hostConcurrency,
    target,
    encryption: {
      recipients: def.recipients ?? config.encryption.recipients,
      recipientsFile: def.recipients ? undefined : config.encryption.recipientsFile,
    },
    compression: def.compression,
    hooks: def.hooks,
    retention: def.retention,
    timeZone: def.schedule?.timezone ?? 'UTC',
    timeoutMinutes: def.timeoutMinutes,
    workerWaitMs: config.workerWait,
    ...selectorOf(config, def),
  };
  if (def.type === 'standard') {
    return {
      ...base,
      type: 'standard',
      containers: def.containers,
      volumes: def.volumes,
      stopTimeoutSeconds: def.stopTimeoutSeconds,
      staging: def.staging,
      volumeFormat: def.volumeFormat,
    };
  }
  const pg = def.postgres;
  return {
    ...base,
    type: 'postgresqldatabase',
    container: def.containers[0] ?? '',
    databases: pg.databases,
    globals: pg.globals,
    osUser: pg.user,
    dbUser: pg.dbUser,
    passwordFile: pg.passwordFile,
    format: pg.format,
    extraArgs: pg.extraArgs,
    // Only when chunked: the plans of definitions that keep the default stay what they were.
    ...(pg.storage === 'chunked' ? { storage: pg.storage } : {}),
    dumpTimeoutMinutes: pg.timeoutMinutes,
  };
}
