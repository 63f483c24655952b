// A TCP port of 127.0.0.1 that nothing listens on, for a server a test starts on ports of its own.
// Chosen below the kernel's ephemeral range (Linux's starts at 32768 by default, macOS's at 49152):
// a port from listen(0) is one the kernel may hand to the next listen(0) as soon as it is closed, and
// a Temporal dev server, whose own services pick their ports that way, once took the HTTP port the
// test had just chosen for it ("bind: address already in use").
import net from 'node:net';

const LOW = 20_000;
const HIGH = 32_000;
/** Ports this process was given already (a server may not listen on them yet). */
const given = new Set<number>();

function canListen(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port in [20000, 32000); distinct from every other this process was given. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (given.has(port)) continue;
    if (await canListen(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} on 127.0.0.1 after 200 tries`);
}
