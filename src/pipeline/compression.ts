import { PassThrough, type Transform } from 'node:stream';
import zlib from 'node:zlib';

export type CompressionAlgorithm = 'zstd' | 'gzip' | 'none';
export interface Compression {
  algorithm: CompressionAlgorithm;
  level?: number | undefined;
}

const CHUNK = 1024 * 1024;
/**
 * Compressed output is a third or less of the input: 256 KiB output chunks keep the thread-pool
 * round trips few while leaving fewer large dead buffers for the garbage collector to find.
 */
const COMPRESSED_CHUNK = 256 * 1024;

/** File-name suffix of each algorithm, so objects and staged files say what they hold. */
export const compressionSuffix: Record<CompressionAlgorithm, string> = {
  zstd: '.zst',
  gzip: '.gz',
  none: '',
};

export function createCompressor({ algorithm, level }: Compression): Transform {
  switch (algorithm) {
    case 'zstd':
      return zlib.createZstdCompress({
        // Node's default 16 KiB output chunk costs a thread-pool round trip per 16 KiB: 2x slower here.
        chunkSize: COMPRESSED_CHUNK,
        params: {
          [zlib.constants.ZSTD_c_compressionLevel]: level ?? 3,
          // No ZSTD_c_nbWorkers: Node 24's zstd stream with worker threads can emit output after its
          // end (ERR_STREAM_PUSH_AFTER_EOF) under backpressure; a backup must never risk a bad stream.
          [zlib.constants.ZSTD_c_checksumFlag]: 1,
        },
      });
    case 'gzip':
      return zlib.createGzip({ level: level ?? 6, chunkSize: COMPRESSED_CHUNK });
    case 'none':
      return new PassThrough();
  }
}

export function createDecompressor(algorithm: CompressionAlgorithm): Transform {
  switch (algorithm) {
    case 'zstd':
      return zlib.createZstdDecompress({ chunkSize: CHUNK });
    case 'gzip':
      return zlib.createGunzip({ chunkSize: CHUNK });
    case 'none':
      return new PassThrough();
  }
}
