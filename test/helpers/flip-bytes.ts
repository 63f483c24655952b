// Damage behind the S3 server's back: bytes of an object's file in its storage directory changed.
import { open } from 'node:fs/promises';

/** XORs `count` bytes of `file` from byte `at`: inside an age payload, its authentication fails. */
export async function flipBytes(file: string, at: number, count = 4): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const b = Buffer.alloc(count);
    await handle.read(b, 0, count, at);
    for (let i = 0; i < count; i++) b[i] = b[i]! ^ 0x5a;
    await handle.write(b, 0, count, at);
  } finally {
    await handle.close();
  }
}
