import net from 'node:net';

/**
 * A loopback TCP proxy in front of the S3 server, so a test can make storage slow or unreachable for
 * one worker without touching the shared server: `throttle` caps the bytes per second sent upstream,
 * `cut` drops every connection and refuses new ones, `restore` listens again on the same port,
 * `holdRequests` stops forwarding at a chosen request (e.g. the third DeleteObjects).
 */
export class TcpProxy {
  port = 0;
  #server: net.Server | undefined;
  #sockets = new Set<net.Socket>();
  #bytesPerSecond = Infinity;
  #hold: { pattern: RegExp; pass: number; held: () => void } | undefined;
  #counters: { pattern: RegExp; count: number }[] = [];
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

  /**
   * Forwards the first `pass` requests whose bytes match `pattern` (a request line such as
   * `POST /bucket/?delete`), then holds the next one and everything after it on its connection;
   * resolves once a request is held. Plain HTTP only: the proxy sees the request line.
   */
  holdRequests(pattern: RegExp, pass: number): Promise<void> {
    return new Promise((resolve) => (this.#hold = { pattern, pass, held: resolve }));
  }

  /** New requests pass again (a held connection stays held until it closes). */
  stopHolding(): void {
    this.#hold = undefined;
  }

  /** Counts the requests from now on whose bytes match `pattern` (e.g. `GET /bucket/prefix/_chunks/`). */
  countRequests(pattern: RegExp): () => number {
    const counter = { pattern: new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`), count: 0 };
    this.#counters.push(counter);
    return () => counter.count;
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
    let held = false;
    client.on('data', (chunk: Buffer) => {
      const hold = this.#hold;
      if (held) return;
      for (const c of this.#counters) c.count += chunk.toString('latin1').match(c.pattern)?.length ?? 0;
      if (hold && hold.pattern.test(chunk.toString('latin1')) && hold.pass-- <= 0) {
        held = true;
        client.pause();
        hold.held();
        return;
      }
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
