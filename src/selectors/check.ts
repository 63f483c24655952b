import type Docker from 'dockerode';
import type { Config } from '../config/index.ts';
import { DockerUnavailableError } from '../docker/errors.ts';
import { buildPlan } from '../plan/build.ts';
import { SelectorError } from './errors.ts';
import { resolveSources } from './resolve.ts';
import type { ResolvedSources } from './types.ts';

/** What `config check` learned about one selector definition from the Docker engine it can reach. */
export type SelectorCheck = { resolved: ResolvedSources } | { error: string } | { unavailable: string };

/**
 * Resolves every selector definition against this machine's Docker engine, as its host's worker
 * would at the start of a run. An engine that cannot be reached is reported, not an error: the
 * check may run where no engine is.
 */
export async function checkSelectors(config: Config, docker: Docker): Promise<Map<string, SelectorCheck>> {
  const checks = new Map<string, SelectorCheck>();
  let unavailable: string | undefined;
  for (const def of config.backupDefinitions) {
    const { selector } = buildPlan(config, def);
    if (selector === undefined) continue;
    if (unavailable !== undefined) {
      checks.set(def.name, { unavailable });
      continue;
    }
    try {
      const resolved = await resolveSources(docker, {
        definition: def.name,
        host: def.host,
        selector,
        containers: def.containers,
        volumes: def.volumes,
        hookContainers: [...def.hooks.preStop, ...def.hooks.postStart].map((h) => h.container),
        exactlyOne: def.type === 'postgresqldatabase',
      });
      checks.set(def.name, { resolved });
    } catch (err) {
      // Here nothing would have been stopped anyway.
      if (err instanceof SelectorError)
        checks.set(def.name, { error: err.message.replace(/; nothing was stopped$/, '') });
      else if (err instanceof DockerUnavailableError) {
        unavailable = err.message;
        checks.set(def.name, { unavailable });
      } else throw err;
    }
  }
  return checks;
}
