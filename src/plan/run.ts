import type { BackupDefinition, Config } from '../config/index.ts';
import { hostTaskQueue } from '../config/index.ts';
import { buildPlan } from './build.ts';
import type { BackupRunPlan } from './types.ts';

/** A run over `definitions` (in config order, whatever order they were named in). */
export function buildRunPlan(config: Config, definitions: BackupDefinition[]): BackupRunPlan {
  const chosen = new Set(definitions.map((d) => d.name));
  const all = chosen.size === config.backupDefinitions.length;
  const steps = config.backupDefinitions
    .filter((d) => chosen.has(d.name))
    .map((def) => ({ plan: buildPlan(config, def), after: def.after }));
  return {
    label: all ? 'all definitions' : steps.map((s) => s.plan.definition).join(', '),
    steps,
    parallel: config.parallel,
    notifyTaskQueue: hostTaskQueue(config.host),
  };
}
