// GET /metrics on the given address: dockvault's series, followed by the Temporal SDK's worker
// metrics fetched from the SDK's own Prometheus exporter, so one scrape target has both.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** `127.0.0.1:9464`, `[::1]:9464`, `:9464` (all interfaces). */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new TypeError(`expected HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** The SDK exporter's address by default: the same host, the next port. */
export function nextPortAddress(text: string): string {
  const { host, port } = parseListenAddress(text);
  return `${host.includes(':') ? `[${host}]` : host}:${port + 1}`;
}

export interface MetricsServer {
  address: string;
  close(): Promise<void>;
}

export async function startMetricsServer(opts: {
  address: string;
  render: () => Promise<string>;
  /** The SDK exporter's address, appended to every scrape when it answers. */
  temporalAddress?: string | undefined;
}): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(opts.address);
  const sdkUrl = opts.temporalAddress ? `http://${opts.temporalAddress}/metrics` : undefined;
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || !req.url?.startsWith('/metrics')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('dockvault: metrics are at /metrics\n');
      return;
    }
    void (async () => {
      let body: string;
      try {
        body = await opts.render();
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`dockvault: ${(err as Error).message}\n`);
        return;
      }
      if (sdkUrl) {
        try {
          const sdk = await fetch(sdkUrl, { signal: AbortSignal.timeout(2000) });
          if (sdk.ok) body += await sdk.text();
        } catch {
          // The SDK exporter is optional for our own series: serve them regardless.
        }
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: `${bound.address}:${bound.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
