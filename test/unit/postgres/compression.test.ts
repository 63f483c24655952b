import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostCompressionFor, userCompressionLevel } from '../../../src/postgres/compression.ts';

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
});
