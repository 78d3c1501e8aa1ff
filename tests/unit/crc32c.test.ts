// native/io's CRC32C against @node-rs/crc32 (the library it replaced on the
// read path) and the standard check value: every length around the three
// streams' strides (256 and 8192 bytes each), unaligned starts, and CRCs
// carried over from earlier bytes.
import assert from 'node:assert/strict';
import { crc32c as reference } from '@node-rs/crc32';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32c } from '../../src/block/crc32c';

test('CRC32C: the check value, and the same as @node-rs/crc32 for any length, start and carried CRC', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  const bytes = randomBytes(3 * 8192 * 2 + 100);
  const lengths = [1, 7, 8, 9, 255, 256, 767, 768, 769, 3 * 256 * 5, 8191, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1, 3 * 8192 * 2 + 37];
  for (const length of lengths) {
    for (const start of [0, 1, 3, 8, 13]) {
      const piece = bytes.subarray(start, start + length);
      assert.equal(crc32c(piece), reference(piece), `${length} bytes from ${start}`);
      const initial = reference(bytes.subarray(0, start + 5));
      assert.equal(crc32c(piece, initial), reference(piece, initial), `${length} bytes from ${start}, carried`);
    }
  }
  const block = randomBytes(8 * 1024 * 1024);
  assert.equal(crc32c(block), reference(block));
  // Piece by piece, as the peer receiver takes it.
  let carried = 0;
  for (let at = 0; at < block.length; at += 16_384 + 3) carried = crc32c(block.subarray(at, at + 16_384 + 3), carried);
  assert.equal(carried, reference(block));
});
