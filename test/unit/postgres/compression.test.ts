import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dumpExtraArgs,
  hostCompressionFor,
  userCompressionLevel,
} from '../../../src/postgres/compression.ts';

describe('who compresses a dump', () => {
  it("reads pg_dump's compression options in every spelling; the last wins", () => {
    assert.equal(userCompressionLevel([]), undefined);
    assert.equal(userCompressionLevel(['--no-owner']), undefined);
    assert.equal(userCompressionLevel(['-Z0']), 0);
    assert.equal(userCompressionLevel(['-Z', '6']), 6);
    assert.equal(userCompressionLevel(['--compress=9']), 9);
    assert.equal(userCompressionLevel(['--compress', 'gzip:4']), 4);
    assert.equal(userCompressionLevel(['--compress=none']), 0);
    assert.equal(userCompressionLevel(['--compress=zstd']), -1);
    assert.equal(userCompressionLevel(['-Z5', '--compress=0']), 0);
  });
  it('dockvault compresses only what pg_dump left raw', () => {
    const zstd = { algorithm: 'zstd' as const, level: 3 };
    assert.deepEqual(hostCompressionFor({ compression: zstd, extraArgs: [] }), { algorithm: 'none' });
    assert.deepEqual(hostCompressionFor({ compression: zstd, extraArgs: ['-Z6'] }), { algorithm: 'none' });
    assert.deepEqual(hostCompressionFor({ compression: zstd, extraArgs: ['--compress=0'] }), zstd);
  });
  it('a dump stored in chunks is written raw and compressed by dockvault, chunk by chunk', () => {
    const zstd = { algorithm: 'zstd' as const, level: 3 };
    assert.deepEqual(dumpExtraArgs({ extraArgs: ['--no-owner'], storage: 'chunked' }), [
      '--no-owner',
      '--compress=0',
    ]);
    assert.deepEqual(dumpExtraArgs({ extraArgs: ['-Z0'], storage: 'chunked' }), ['-Z0']);
    // A level the config would refuse still ends up raw: the last option wins.
    assert.deepEqual(dumpExtraArgs({ extraArgs: ['-Z6'], storage: 'chunked' }), ['-Z6', '--compress=0']);
    assert.deepEqual(dumpExtraArgs({ extraArgs: ['-Z6'], storage: 'object' }), ['-Z6']);
    assert.deepEqual(dumpExtraArgs({ extraArgs: [] }), []);
    assert.deepEqual(hostCompressionFor({ compression: zstd, extraArgs: [], storage: 'chunked' }), zstd);
    assert.deepEqual(hostCompressionFor({ compression: zstd, extraArgs: [], storage: 'object' }), {
      algorithm: 'none',
    });
  });
});
