// The config module's public surface; other modules import from here.
export { loadConfigFile, parseConfig, resolveConfigPath, DEFAULT_CONFIG_PATH } from './load.ts';
export { ConfigError } from './errors.ts';
export type { ConfigIssue } from './errors.ts';
export { describePlan, describeDefinition, RECIPIENTS_ENV } from './plan.ts';
export { hostTaskQueue } from './resolve.ts';
export { configJsonSchema, configJsonSchemaText } from './json-schema.ts';
export { interpolateString } from './interpolate.ts';
export type { Env } from './interpolate.ts';
export { formatInterval, formatRetentionWindow } from './duration.ts';
export type { RetentionWindow } from './duration.ts';
export type * from './schema.ts';
