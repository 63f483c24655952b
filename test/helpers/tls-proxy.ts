import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { tieTogether } from './tcp-proxy.ts';
import type { TestCertificates } from './test-certificates.ts';

/**
 * What a production Temporal frontend looks like from outside: TLS that requires a client certificate
 * signed by the test CA, in front of the plaintext dev server. gRPC is HTTP/2, so it offers ALPN h2.
 * `refusals` keeps the handshake errors it saw (a missing client certificate); a certificate of another
 * CA is verified after the handshake and the connection closed, which Node's server does silently.
 */
export class TlsProxy {
  port = 0;
  readonly refusals: string[] = [];
  #server: tls.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  readonly #target: { host: string; port: number };

  constructor(targetAddress: string) {
    const [host, port] = targetAddress.split(':');
    this.#target = { host: host!, port: Number(port) };
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(certs: TestCertificates): Promise<void> {
    const server = tls.createServer(
      {
        key: await readFile(certs.server.key),
        cert: await readFile(certs.server.cert),
        ca: await readFile(certs.ca.cert),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (client) => this.#forward(client),
    );
    server.on('tlsClientError', (err) => this.refusals.push(err.message));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  #forward(client: tls.TLSSocket): void {
    const upstream = net.connect(this.#target);
    tieTogether(this.#sockets, client, upstream);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
