import type { RawConfig, RawDefinition } from './schema.ts';

type CompressionInput = RawConfig['compression'];
type Algorithm = NonNullable<CompressionInput['algorithm']>;

/** Duplicated from schema.ts to keep this module free of runtime imports from it (they import each other). */
const DEFAULT_LEVEL: Record<Algorithm, number> = { zstd: 3, gzip: 6, none: 0 };

/** Data-moving steps at once on a host without `hosts.<host>.concurrency`; schema.ts imports it from here. */
export const DEFAULT_HOST_CONCURRENCY = 2;

/** The task queue that runs a host's Docker and data activities. */
export function hostTaskQueue(host: string): string {
  return `dockvault.${host}`;
}

/** A definition's level only applies to its own algorithm; switching algorithm resets to that default. */
function effectiveCompression(
  global: CompressionInput,
  own: CompressionInput | undefined,
): { algorithm: Algorithm; level: number } {
  const globalAlgorithm = global.algorithm ?? 'zstd';
  const algorithm = own?.algorithm ?? globalAlgorithm;
  const inheritedLevel = algorithm === globalAlgorithm ? global.level : undefined;
  return { algorithm, level: own?.level ?? inheritedLevel ?? DEFAULT_LEVEL[algorithm] };
}

function resolveDefinition(config: RawConfig, def: RawDefinition) {
  const { postgres, type, ...rest } = def;
  const host = def.host ?? config.host;
  const common = {
    ...rest,
    host,
    taskQueue: hostTaskQueue(host),
    hostConcurrency: config.hosts[host]?.concurrency ?? DEFAULT_HOST_CONCURRENCY,
    stopTimeoutSeconds: def.stopTimeoutSeconds ?? config.stopTimeoutSeconds,
    staging: def.staging ?? config.staging,
    volumeFormat: def.volumeFormat ?? config.volumeFormat,
    compression: effectiveCompression(config.compression, def.compression),
    retention: def.retention ?? config.retention,
  };
  // The schema fills `postgres` for every definition; rules reject it where it was written on a standard one.
  if (type === 'standard') return { ...common, type };
  return { ...common, type, postgres };
}

/**
 * Turns the parsed file into what consumers use: every definition carries its effective settings
 * (own override or the global value), so nothing downstream re-implements inheritance.
 */
export function resolveConfig(raw: RawConfig) {
  const { $schema: _ignored, ...config } = raw;
  return {
    ...config,
    compression: effectiveCompression(raw.compression, undefined),
    backupDefinitions: raw.backupDefinitions.map((def) => resolveDefinition(raw, def)),
  };
}
