// The demo's proof that a restore brings back what was backed up, and its clean-up of the backups.
//
//   node scripts/demo-check.ts compare [--volume ORIGINAL=RESTORED]... [--postgres ORIGINAL=RESTORED]...
//     volumes: every path's type, contents (sha256), mode, owner, mtime, link target and hard links;
//     PostgreSQL containers: roles, and per database (all but postgres and the templates) the schema as
//     pg_dump prints it and every table's row count and checksum. Exit 1 on any difference.
//   node scripts/demo-check.ts delete-backups CONFIG
//     deletes every object of the config's definitions (the demo's backups).
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { formatBytes } from '../src/cli/format.ts';
import { loadConfigFile } from '../src/config/index.ts';
import { buildPlan } from '../src/plan/build.ts';
import { createS3Store } from '../src/storage/s3-store.ts';
import { PostgresFixtures } from '../test/helpers/postgres-fixtures.ts';
import { describeTree, diffTrees } from '../test/helpers/tree.ts';

const docker = new Docker();
const pg = new PostgresFixtures();

function pairs(values: string[] | undefined): [string, string][] {
  return (values ?? []).map((v) => {
    const [a, b, ...rest] = v.split('=');
    if (!a || !b || rest.length > 0) throw new Error(`expected ORIGINAL=RESTORED, got "${v}"`);
    return [a, b];
  });
}

function report(what: string, problems: string[], summary: string): boolean {
  if (problems.length === 0) {
    console.log(`identical  ${what}: ${summary}`);
    return true;
  }
  console.log(`DIFFERENT  ${what}: ${problems.length} difference(s)`);
  for (const p of problems.slice(0, 20)) console.log(`           ${p}`);
  return false;
}

async function compareVolumes(original: string, restored: string): Promise<boolean> {
  const mountpoint = async (name: string) => (await docker.getVolume(name).inspect()).Mountpoint;
  const expected = await describeTree(await mountpoint(original));
  const actual = await describeTree(await mountpoint(restored));
  let bytes = 0;
  for (const e of expected.values()) bytes += e.size ?? 0;
  return report(
    `volume ${original} -> ${restored}`,
    diffTrees(expected, actual),
    `${expected.size} paths, ${formatBytes(bytes)} (contents, modes, owners, mtimes, links)`,
  );
}

const ROLES = `SELECT rolname, rolcanlogin, rolsuper, rolcreatedb FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1`;
const DATABASES = `SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY 1`;

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

async function comparePostgres(original: string, restored: string): Promise<boolean> {
  const what = `${original} -> ${restored}`;
  let ok = true;
  const roles = [await pg.sql(original, 'postgres', ROLES), await pg.sql(restored, 'postgres', ROLES)];
  const roleNames = lines(roles[0]!).map((l) => l.split('|')[0]);
  ok =
    report(
      `roles (${what})`,
      roles[0] === roles[1] ? [] : [`${lines(roles[0]!).join(', ')} != ${lines(roles[1]!).join(', ')}`],
      roleNames.join(', '),
    ) && ok;
  const databases = lines(await pg.sql(original, 'postgres', DATABASES));
  const restoredDatabases = lines(await pg.sql(restored, 'postgres', DATABASES));
  const missing = databases.filter((d) => !restoredDatabases.includes(d));
  if (missing.length > 0) ok = report(`databases ${what}`, [`missing: ${missing.join(', ')}`], '');
  for (const db of databases.filter((d) => restoredDatabases.includes(d))) {
    const problems: string[] = [];
    if ((await pg.schema(original, db)) !== (await pg.schema(restored, db))) {
      problems.push('schema (pg_dump --schema-only) differs');
    }
    const [want, got] = [await pg.fingerprint(original, db), await pg.fingerprint(restored, db)];
    for (const rel of new Set([...Object.keys(want), ...Object.keys(got)])) {
      if (want[rel] !== got[rel])
        problems.push(`${rel}: ${want[rel] ?? 'missing'} != ${got[rel] ?? 'missing'}`);
    }
    // Tables carry "rows md5"; sequences "last_value is_called".
    const tables = Object.entries(want)
      .filter(([rel, value]) => rel !== '(large objects)' && /^\d+ ([0-9a-f]{32}|-)$/.test(value))
      .map(([rel, value]) => `${rel} ${value.split(' ')[0]} rows`);
    ok =
      report(
        `database ${db} (${what})`,
        problems,
        `schema; ${tables.join(', ') || 'no tables'}; checksums`,
      ) && ok;
  }
  return ok;
}

async function deleteBackups(configPath: string): Promise<void> {
  const config = await loadConfigFile(configPath);
  for (const def of config.backupDefinitions) {
    const store = createS3Store(buildPlan(config, def).target);
    try {
      const keys: string[] = [];
      for await (const o of store.list(`${def.name}/`)) keys.push(o.key);
      if (keys.length > 0) await store.deleteMany(keys);
      await store.abortUnfinishedUploads(`${def.name}/`);
      console.log(`deleted ${keys.length} object(s) of ${def.name} at ${store.location}`);
    } finally {
      store.destroy();
    }
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'delete-backups' && rest.length === 1) {
  await deleteBackups(rest[0]!);
} else if (mode === 'compare') {
  const { values } = parseArgs({
    args: rest,
    options: { volume: { type: 'string', multiple: true }, postgres: { type: 'string', multiple: true } },
  });
  let ok = true;
  for (const [a, b] of pairs(values.volume)) ok = (await compareVolumes(a, b)) && ok;
  for (const [a, b] of pairs(values.postgres)) ok = (await comparePostgres(a, b)) && ok;
  if (!ok) {
    console.log('the restored data does NOT match the originals');
    process.exit(1);
  }
  console.log('the restored data matches the originals');
} else {
  console.error('usage: demo-check.ts compare [--volume A=B]... [--postgres A=B]... | delete-backups CONFIG');
  process.exit(2);
}
