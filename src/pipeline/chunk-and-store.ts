import type { Readable } from 'node:stream';
import { ContentChunker, DEFAULT_CHUNK_SIZES, type ChunkSizes } from './content-chunker.ts';
import { discard } from './discard.ts';
import { ChunkWriter, type ChunkedObject, type ChunkWriterOptions } from './chunk-writer.ts';

export interface ChunkAndStoreOptions extends ChunkWriterOptions {
  sizes?: ChunkSizes;
}

/**
 * Cuts `source` into content-defined chunks and stores each chunk the store does not have yet under
 * its keyed name (a few at a time), then writes the chunk index. A failure stops reading and waits for
 * the uploads in flight.
 */
export async function chunkAndStore(source: Readable, options: ChunkAndStoreOptions): Promise<ChunkedObject> {
  const chunker = new ContentChunker(options.sizes ?? DEFAULT_CHUNK_SIZES);
  const writer = new ChunkWriter(options);
  try {
    const store = async (chunk: Buffer) => {
      await writer.add(chunk);
      // add() is done with the plaintext once it returns (sealed, or known to the store).
      if (chunker.joined(chunk)) discard(chunk);
    };
    for await (const data of source as AsyncIterable<Buffer>) {
      for (const chunk of chunker.push(data)) await store(chunk);
    }
    const last = chunker.end();
    if (last) await store(last);
    return await writer.finish();
  } catch (err) {
    source.destroy();
    await writer.settle();
    throw err;
  }
}
