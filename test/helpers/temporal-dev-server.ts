// A Temporal dev server of a test's own, on free ports with its own database file, so the test may
// kill and restart it; the shared one on 7233 is never touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { freePort } from './free-port.ts';
import { scratchDir } from './scratch.ts';

export class TemporalDevServer {
  port = 0;
  #args: string[] = [];
  #child: ChildProcess | undefined;
  #output = '';
  #cleanupDir: () => Promise<void> = () => Promise.resolve();

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  output(): string {
    return this.#output;
  }

  static async start(): Promise<TemporalDevServer> {
    const server = new TemporalDevServer();
    const scratch = await scratchDir('dvt-temporal');
    server.#cleanupDir = scratch.cleanup;
    server.port = await freePort();
    // The same ports on every start: workers and clients reconnect to the restarted server.
    server.#args = [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(server.port),
      '--http-port',
      String(await freePort()),
      '--metrics-port',
      String(await freePort()),
      '--headless',
      '--log-level',
      'warn',
      '--db-filename',
      join(scratch.dir, 'temporal.db'),
      ...['DockvaultDefinition', 'DockvaultType', 'DockvaultHost'].flatMap((name) => [
        '--search-attribute',
        `${name}=Keyword`,
      ]),
    ];
    await server.restart();
    return server;
  }

  /** Starts the server (again, on the same ports and database) and waits until it answers. */
  async restart(): Promise<void> {
    const child = spawn('temporal', this.#args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    child.stdout.on('data', (d: Buffer) => (this.#output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.#output += d.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`temporal server exited ${child.exitCode}:\n${this.#output}`);
      try {
        const connection = await Connection.connect({ address: this.address, connectTimeout: 1000 });
        try {
          await connection.workflowService.getSystemInfo({});
          return;
        } finally {
          await connection.close();
        }
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`temporal server did not answer in 30 s: ${String(err)}\n${this.#output}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Ends the server process; SIGKILL is a crash (nothing flushed or closed). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  async close(): Promise<void> {
    await this.stop('SIGKILL');
    await this.#cleanupDir();
  }
}
