import { parseInterval } from './duration.ts';
import type { PathIssue } from './errors.ts';
import { COMPRESSION_LEVELS, DEFAULT_HOST } from './schema.ts';
import { didYouMean } from './suggest.ts';
import { formatPath } from './yaml-location.ts';

/**
 * Rules that span fields. They run on the raw (interpolated) document even when the shape check
 * failed, so one run reports every problem; each rule skips values of the wrong shape, which the
 * schema already reports.
 */

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** `field` names the key inside each item when the items are mappings (definition names). */
function duplicates(
  values: unknown[],
  path: (string | number)[],
  what: string,
  into: PathIssue[],
  field?: string,
): void {
  const first = new Map<string, number>();
  values.forEach((value, i) => {
    if (typeof value !== 'string') return;
    const earlier = first.get(value);
    if (earlier === undefined) first.set(value, i);
    else {
      into.push({
        path: field === undefined ? [...path, i] : [...path, i, field],
        message: `duplicate ${what} "${value}" (also ${formatPath([...path, earlier])})`,
      });
    }
  });
}

function compressionLevel(
  compression: unknown,
  inheritedAlgorithm: unknown,
  path: (string | number)[],
  into: PathIssue[],
): void {
  if (!isObj(compression) || typeof compression.level !== 'number') return;
  const algorithm = compression.algorithm ?? inheritedAlgorithm ?? 'zstd';
  if (algorithm !== 'zstd' && algorithm !== 'gzip' && algorithm !== 'none') return;
  const { min, max } = COMPRESSION_LEVELS[algorithm];
  const level = compression.level;
  if (algorithm === 'none') {
    into.push({ path: [...path, 'level'], message: 'a level does not apply to algorithm "none"; remove it' });
  } else if (level < min || level > max) {
    into.push({
      path: [...path, 'level'],
      message: `level ${level} is out of range for ${algorithm} (${min}-${max})`,
    });
  }
}

function definitionRules(
  def: Obj,
  path: (string | number)[],
  globalAlgorithm: unknown,
  into: PathIssue[],
): void {
  const type = def.type === 'postgres' ? 'postgresqldatabase' : def.type;
  const containers = list(def.containers);
  const volumes = list(def.volumes);
  if (type === 'standard') {
    if (Array.isArray(def.volumes) || def.volumes === undefined) {
      if (volumes.length === 0) {
        into.push({ path: [...path, 'volumes'], message: 'a standard definition needs at least one volume' });
      }
    }
    if (def.postgres !== undefined) {
      into.push({
        path: [...path, 'postgres'],
        message: '"postgres" options only apply to type "postgresqldatabase"',
        atKey: true,
      });
    }
  }
  // Selected containers are only known on the host at run time; resolution checks them there.
  const selects = def.compose !== undefined || def.labels !== undefined;
  if (type === 'postgresqldatabase' && selects) {
    if (containers.length > 0) {
      into.push({
        path: [...path, 'containers'],
        message:
          'a postgresqldatabase definition names its one container either in "containers" or with a selector ("compose", "labels"), not both',
      });
    }
  } else if (type === 'postgresqldatabase') {
    if ((def.containers === undefined || Array.isArray(def.containers)) && containers.length !== 1) {
      into.push({
        path: [...path, 'containers'],
        message: `a postgresqldatabase definition needs exactly one container (the one running PostgreSQL), got ${containers.length}`,
      });
    }
    if (volumes.length > 0) {
      into.push({
        path: [...path, 'volumes'],
        message:
          'a postgresqldatabase definition takes no volumes (pg_dump reads the database); back volumes up with a standard definition',
      });
    }
  }
  duplicates(containers, [...path, 'containers'], 'container', into);
  duplicates(volumes, [...path, 'volumes'], 'volume', into);
  if (isObj(def.compose))
    duplicates(list(def.compose.services), [...path, 'compose', 'services'], 'service', into);
  if (isObj(def.hooks) && !selects) {
    for (const phase of ['preStop', 'postStart']) {
      list(def.hooks[phase]).forEach((hook, i) => {
        if (!isObj(hook) || typeof hook.container !== 'string' || containers.includes(hook.container)) return;
        into.push({
          path: [...path, 'hooks', phase, i, 'container'],
          message: `container "${hook.container}" is not in this definition's containers; hooks run only in containers the definition manages`,
        });
      });
    }
  }
  compressionLevel(def.compression, globalAlgorithm, [...path, 'compression'], into);
}

/** `after` names other definitions of this file, never itself, and never closes a cycle. */
function runOrderRules(definitions: unknown[], into: PathIssue[]): void {
  const names = new Set(definitions.flatMap((d) => (isObj(d) && typeof d.name === 'string' ? [d.name] : [])));
  const edges = new Map<string, string[]>();
  definitions.forEach((def, i) => {
    if (!isObj(def) || typeof def.name !== 'string') return;
    const after = list(def.after).filter((a): a is string => typeof a === 'string');
    after.forEach((name, j) => {
      const path = ['backupDefinitions', i, 'after', j];
      if (name === def.name) into.push({ path, message: 'a definition cannot run after itself' });
      else if (!names.has(name)) {
        into.push({
          path,
          message: `no backup definition named "${name}"; defined: ${[...names].join(', ')}`,
        });
      }
    });
    edges.set(
      def.name,
      after.filter((a) => a !== def.name && names.has(a)),
    );
  });
  const cycle = findCycle(edges);
  if (cycle) {
    const i = definitions.findIndex((d) => isObj(d) && d.name === cycle[0]);
    into.push({
      path: ['backupDefinitions', i, 'after'],
      message: `"after" makes a cycle: ${cycle.join(' -> ')}`,
    });
  }
}

function findCycle(edges: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

/**
 * Every `hosts` entry names a host that definitions run on: runs and restores take their limit from
 * their definition's host, so any other entry would do nothing, and is most likely a typo that leaves
 * the real host at the default.
 */
function hostLimitRules(raw: Obj, definitions: unknown[], into: PathIssue[]): void {
  if (!isObj(raw.hosts)) return;
  const defaultHost = typeof raw.host === 'string' ? raw.host : DEFAULT_HOST;
  const used = [
    ...new Set(definitions.map((d) => (isObj(d) && typeof d.host === 'string' ? d.host : defaultHost))),
  ];
  for (const name of Object.keys(raw.hosts)) {
    if (used.includes(name)) continue;
    into.push({
      path: ['hosts', name],
      message: `no backup definition runs on host "${name}"${didYouMean(name, used)}; definitions run on: ${used.join(', ')}`,
      atKey: true,
    });
  }
}

/**
 * A chunk that no complete backup uses is deleted a grace period after a prune first saw it so: a run
 * that reused it must have written its manifest by then, so the grace must cover the longest run.
 */
function chunkGraceRules(raw: Obj, definitions: unknown[], into: PathIssue[]): void {
  const text = isObj(raw.s3) ? raw.s3.chunkGrace : undefined;
  const grace = typeof text === 'string' ? parseInterval(text) : undefined;
  if (!grace?.ok) return;
  definitions.forEach((def, i) => {
    if (!isObj(def) || typeof def.timeoutMinutes !== 'number') return;
    if (def.timeoutMinutes * 60_000 <= grace.ms) return;
    into.push({
      path: ['s3', 'chunkGrace'],
      message: `${String(text)} is shorter than ${formatPath(['backupDefinitions', i, 'timeoutMinutes'])} (${def.timeoutMinutes} minutes): prune could delete a chunk a run still in progress reuses; make chunkGrace at least the longest timeoutMinutes`,
    });
  });
}

export function crossFieldIssues(raw: unknown): PathIssue[] {
  const issues: PathIssue[] = [];
  if (!isObj(raw)) return issues;
  compressionLevel(raw.compression, undefined, ['compression'], issues);
  const globalAlgorithm = isObj(raw.compression) ? raw.compression.algorithm : undefined;
  const definitions = list(raw.backupDefinitions);
  duplicates(
    definitions.map((d) => (isObj(d) ? d.name : undefined)),
    ['backupDefinitions'],
    'name',
    issues,
    'name',
  );
  definitions.forEach((def, i) => {
    if (isObj(def)) definitionRules(def, ['backupDefinitions', i], globalAlgorithm, issues);
  });
  runOrderRules(definitions, issues);
  hostLimitRules(raw, definitions, issues);
  chunkGraceRules(raw, definitions, issues);
  return issues;
}
