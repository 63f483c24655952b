import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { generateIdentity } from '../../src/pipeline/age/keys.ts';
import { createS3Store } from '../../src/storage/s3-store.ts';
import type { BackupStore } from '../../src/storage/store.ts';
import { DockerFixtures } from './docker-fixtures.ts';
import { scratchDir, uniqueTag } from './scratch.ts';
import { s3TestTarget, stack } from './stack-env.ts';
import { runCli, startWorker, type WorkerProcess } from './worker-process.ts';

/**
 * Everything an end-to-end backup test needs on the shared stack, isolated by a random tag: its own
 * task queues and host name (no other test's worker picks up its tasks), S3 prefix, state and
 * staging directories, age identity, and Docker fixtures.
 */
export class BackupTestEnv {
  readonly tag: string;
  readonly fixtures = new DockerFixtures();
  dir = '';
  configPath = '';
  identityPath = '';
  recipient = '';
  stateDir = '';
  stagingDir = '';
  store!: BackupStore;
  worker: WorkerProcess | undefined;
  #cleanupDir: () => Promise<void> = () => Promise.resolve();
  #client: Client | undefined;

  private constructor(prefix: string) {
    this.tag = uniqueTag(prefix);
  }

  /** `prefix` starts every name the test creates (containers, volumes, queues, S3 prefix). */
  static async create(prefix = 'dvt'): Promise<BackupTestEnv> {
    const env = new BackupTestEnv(prefix);
    const scratch = await scratchDir(env.tag);
    env.dir = scratch.dir;
    env.#cleanupDir = scratch.cleanup;
    env.stateDir = join(env.dir, 'state');
    env.stagingDir = join(env.dir, 'staging');
    await mkdir(env.stagingDir, { recursive: true });
    const { identity, recipient } = generateIdentity();
    env.identityPath = join(env.dir, 'identity.txt');
    await writeFile(env.identityPath, `${identity}\n`, { mode: 0o600 });
    await chmod(env.identityPath, 0o600);
    env.recipient = recipient;
    env.configPath = join(env.dir, 'dockvault.yml');
    env.store = createS3Store(env.s3Target());
    return env;
  }

  s3Target() {
    return s3TestTarget(this.tag, { queueSize: 4 });
  }

  /** Writes the config file: the given definitions plus this environment's stack settings. */
  async writeConfig(
    definitions: object[],
    extra: Record<string, unknown> = {},
    s3: Record<string, unknown> = {},
  ) {
    const config = {
      host: this.tag,
      temporal: { address: stack.temporalAddress, taskQueue: this.tag },
      s3: { endpoint: stack.s3Endpoint, bucket: stack.s3Bucket, prefix: this.tag, partSizeMiB: 5, ...s3 },
      encryption: { recipients: [this.recipient] },
      staging: { dir: this.stagingDir, minFreeMiB: 0 },
      stopTimeoutSeconds: 5,
      ...extra,
      backupDefinitions: definitions,
    };
    await writeFile(this.configPath, stringify(config));
  }

  async startWorker(extraArgs: string[] = []): Promise<WorkerProcess> {
    this.worker = await startWorker(this.configPath, this.stateDir, extraArgs);
    return this.worker;
  }

  async client(): Promise<Client> {
    if (!this.#client) {
      const connection = await Connection.connect({ address: stack.temporalAddress });
      this.#client = new Client({ connection });
    }
    return this.#client;
  }

  /** Starts a run with the real CLI without waiting, and returns its workflow id. */
  async startRun(definition: string): Promise<string> {
    const started = await runCli(['run', definition, '--no-wait', '--config', this.configPath]);
    const id = /started (\S+)/.exec(started.stdout)?.[1];
    if (started.code !== 0 || !id)
      throw new Error(`run --no-wait failed: ${started.stdout}${started.stderr}`);
    return id;
  }

  /** Backup ids that have a manifest, and prefixes that have objects, for one definition. */
  async backups(definition: string): Promise<{ manifests: string[]; prefixes: string[]; uploads: number }> {
    const prefixes = await this.store.listPrefixes(`${definition}/`);
    const manifests: string[] = [];
    for (const p of prefixes) if (await this.store.head(`${p}manifest.json`)) manifests.push(p);
    const uploads = (await this.store.listUnfinishedUploads(`${definition}/`)).length;
    return { manifests, prefixes, uploads };
  }

  async close(): Promise<void> {
    await this.worker?.stop('SIGKILL');
    await this.#client?.connection.close();
    await this.fixtures.cleanup();
    const keys: string[] = [];
    for await (const o of this.store.list('')) keys.push(o.key);
    if (keys.length > 0) await this.store.deleteMany(keys);
    await this.store.abortUnfinishedUploads('');
    await this.#cleanupDir();
  }
}
