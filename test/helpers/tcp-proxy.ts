import net from 'node:net';

/**
 * A loopback TCP proxy in front of the S3 server, so a test can make storage slow or unreachable for
 * one worker without touching the shared server: `throttle` caps the bytes per second sent upstream,
 * `cut` drops every connection and refuses new ones, `restore` listens again on the same port.
 */
export class TcpProxy {
  port = 0;
  #server: net.Server | undefined;
  #sockets = new Set<net.Socket>();
  #bytesPerSecond = Infinity;
  readonly #target: { host: string; port: number };
  readonly #listenHost: string;

  /** `listenHost`: loopback by default; containers reach a proxy listening on the host's bridge address. */
  constructor(targetUrl: string, listenHost = '127.0.0.1') {
    const url = new URL(targetUrl);
    this.#target = { host: url.hostname, port: Number(url.port) };
    this.#listenHost = listenHost;
  }

  get url(): string {
    return `http://${this.#listenHost}:${this.port}`;
  }

  async start(): Promise<void> {
    await this.#listen(0);
  }

  throttle(bytesPerSecond: number): void {
    this.#bytesPerSecond = bytesPerSecond;
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  async restore(): Promise<void> {
    if (!this.#server) await this.#listen(this.port);
  }

  async close(): Promise<void> {
    await this.cut();
  }

  #listen(port: number): Promise<void> {
    const server = net.createServer((client) => this.#connect(client));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.#listenHost, () => {
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  #connect(client: net.Socket): void {
    const upstream = net.connect(this.#target);
    tieTogether(this.#sockets, client, upstream);
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      if (!Number.isFinite(this.#bytesPerSecond)) {
        if (!upstream.write(chunk)) client.pause();
        return;
      }
      client.pause();
      upstream.write(chunk);
      setTimeout(() => client.resume(), (chunk.length / this.#bytesPerSecond) * 1000);
    });
    upstream.on('drain', () => client.resume());
  }
}

/** Tracks both sockets of a proxied connection in `open`; an error or close of either ends both. */
export function tieTogether(open: Set<net.Socket>, client: net.Socket, upstream: net.Socket): void {
  open.add(client).add(upstream);
  const drop = () => {
    client.destroy();
    upstream.destroy();
    open.delete(client);
    open.delete(upstream);
  };
  client.on('error', drop).on('close', drop);
  upstream.on('error', drop).on('close', drop);
}
