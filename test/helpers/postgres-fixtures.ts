// PostgreSQL servers in containers from the local image, for the postgres backup tests: start one,
// run SQL in it, and compare two servers' schema and data. Everything is removed by cleanup().
import { spawn } from 'node:child_process';
import Docker from 'dockerode';
import { stack } from './stack-env.ts';
import { waitFor } from './wait.ts';

export interface SqlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, optionally feeding stdin, and collects its output (never throws on exit code). */
export function run(cmd: string, args: string[], input?: string): Promise<SqlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

// initdb, a pg_hba line for password logins from other hosts, then the server in the foreground.
const START = [
  'set -e',
  'mkdir -p "$PGDATA" && chown postgres "$PGDATA"',
  'su postgres -c \'initdb -D "$PGDATA" --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null\'',
  'echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"',
  'exec su postgres -c \'exec postgres -D "$PGDATA" -c listen_addresses=* -c fsync=off\'',
].join('\n');

export class PostgresFixtures {
  readonly docker = new Docker();
  readonly #containers: string[] = [];

  /** A running server; ready when pg_isready says so. `env` goes into the container's environment. */
  async server(name: string, env: string[] = [], labels: Record<string, string> = {}): Promise<string> {
    const container = await this.docker.createContainer({
      name,
      Image: stack.postgresImage,
      Cmd: ['sh', '-c', START],
      Env: env,
      Labels: labels,
      StopSignal: 'SIGINT',
    });
    this.#containers.push(name);
    await container.start();
    await waitFor(
      async () => (await run('docker', ['exec', '-u', 'postgres', name, 'pg_isready', '-q'])).code === 0,
      60_000,
      `PostgreSQL in ${name} to accept connections`,
    );
    return name;
  }

  async ip(name: string): Promise<string> {
    const networks = (await this.docker.getContainer(name).inspect()).NetworkSettings.Networks;
    const ip = Object.values(networks)[0]?.IPAddress;
    if (!ip) throw new Error(`container ${name} has no IP address`);
    return ip;
  }

  /** psql as OS user postgres over the socket, stopping at the first error; returns stdout. */
  async sql(container: string, database: string, script: string): Promise<string> {
    const result = await run(
      'docker',
      [
        'exec',
        '-i',
        '-e',
        'PGHOST=/var/run/postgresql',
        '-u',
        'postgres',
        container,
        'psql',
        '-X',
        '-q',
        '-At',
        '-v',
        'ON_ERROR_STOP=1',
        '-d',
        `dbname='${database.replaceAll("'", "\\'")}'`,
      ],
      script,
    );
    if (result.code !== 0) throw new Error(`psql in ${container}/${database} failed: ${result.stderr}`);
    return result.stdout;
  }

  /** Schema as pg_dump prints it, without the per-dump random \restrict key lines. */
  async schema(container: string, database: string): Promise<string> {
    const result = await run('docker', [
      'exec',
      '-e',
      'PGHOST=/var/run/postgresql',
      '-u',
      'postgres',
      container,
      'pg_dump',
      '--schema-only',
      '--dbname',
      `dbname='${database.replaceAll("'", "\\'")}'`,
    ]);
    if (result.code !== 0) throw new Error(`pg_dump --schema-only failed: ${result.stderr}`);
    return result.stdout
      .split('\n')
      .filter((l) => !/^\\(un)?restrict /.test(l))
      .join('\n');
  }

  /**
   * Row count and md5 of every table, sequence and materialized view outside the system schemas,
   * plus the large objects' contents: equal fingerprints mean equal data.
   */
  async fingerprint(container: string, database: string): Promise<Record<string, string>> {
    const relations = (
      await this.sql(
        container,
        database,
        `SELECT c.relkind::text || format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'S', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1`,
      )
    )
      .split('\n')
      .filter((l) => l !== '');
    const result: Record<string, string> = {};
    for (const entry of relations) {
      const [kind, rel] = [entry.slice(0, 1), entry.slice(1)];
      const query =
        kind === 'S'
          ? `SELECT last_value || ' ' || is_called FROM ${rel}`
          : `SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '-') FROM ${rel} t`;
      result[rel] = (await this.sql(container, database, query)).trim();
    }
    result['(large objects)'] = (
      await this.sql(
        container,
        database,
        `SELECT count(*) || ' ' || coalesce(md5(string_agg(oid::text || ':' || md5(lo_get(oid)), ',' ORDER BY oid)), '-')
         FROM pg_largeobject_metadata`,
      )
    ).trim();
    return result;
  }

  async cleanup(): Promise<void> {
    for (const name of this.#containers.splice(0)) {
      await this.docker
        .getContainer(name)
        .remove({ force: true, v: true })
        .catch(() => {});
    }
  }
}
