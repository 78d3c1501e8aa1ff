import { crc32c } from '@node-rs/crc32';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../../src/block/block-buffer';
import { RamTier } from '../../src/block/ram-tier';
import type { BlockId } from '../../src/block/types';
import { blockBytes, expectBlock, pooledBlock, putBytes } from '../support/block-bytes';

const BLOCK = 256 * 1024;
const id = (index: number): BlockId => ({ bucket: 'b', key: 'k', etag: '"e"', index });

/** A pool with nothing idle, so idleCount tells which buffers came back. */
const freshPool = () => new BufferPool({ size: BLOCK, poison: true });
const tier = (capacityBlocks = 8, compress?: boolean) => new RamTier({ capacityBytes: capacityBlocks * BLOCK, blockSize: BLOCK, compress });

test('incompressible bytes are kept raw, by reference to the same memory', async () => {
  const pool = freshPool();
  const ram = tier();
  const bytes = blockBytes('random', 'r', BLOCK);
  const block = await putBytes(ram, id(0), pool, bytes);
  assert.equal(pool.idleCount, 0, 'the tier holds no reference');
  assert.deepEqual([ram.compressedBlocks, ram.stats()[0].usedBytes], [0, BLOCK]);
  const got = await ram.get(id(0));
  assert.equal(got?.bytes.buffer, block.bytes.buffer, 'copied instead of referenced');
  assert.deepEqual(got.bytes, bytes);
  got.release();
});

test('compressible bytes are kept lz4-compressed and come back identical', async () => {
  const pool = freshPool();
  const ram = tier();
  const bytes = blockBytes('compressible', 'c', BLOCK);
  await putBytes(ram, id(0), pool, bytes);
  assert.equal(pool.idleCount, 1, 'a compressed block keeps no reference to the original');
  const { usedBytes } = ram.stats()[0];
  assert.equal(ram.compressedBlocks, 1);
  assert.ok(usedBytes < 0.9 * BLOCK, `stored ${usedBytes} of ${BLOCK}`);
  for (let i = 0; i < 2; i++) await expectBlock(ram.get(id(0)), bytes);
});

test('compress: false keeps compressible bytes raw', async () => {
  const ram = tier(8, false);
  await putBytes(ram, id(0), freshPool(), blockBytes('compressible', 'c', BLOCK));
  assert.deepEqual([ram.compressedBlocks, ram.stats()[0].usedBytes], [0, BLOCK]);
});

test('a short block is copied out of its block-sized pooled memory, which goes back to the pool', async () => {
  const pool = freshPool();
  const ram = tier();
  const bytes = blockBytes('random', 'short', 1000);
  await putBytes(ram, id(0), pool, bytes);
  assert.equal(pool.idleCount, 1, 'the tier pins a whole pooled buffer for 1000 bytes');
  assert.equal(ram.stats()[0].usedBytes, 1000);
  await expectBlock(ram.get(id(0)), bytes);
});

test('a block with no crc32c gets one', async () => {
  const ram = tier();
  const bytes = blockBytes('random', 'x', BLOCK);
  const block = freshPool().take(BLOCK);
  bytes.copy(block.bytes);
  await ram.put(id(0), block);
  assert.equal(block.crc32c, crc32c(bytes));
  block.release();
  await expectBlock(ram.get(id(0)), bytes);
});

test('a compressed block that fails its check is dropped and counted, not returned', async () => {
  const ram = tier();
  const block = pooledBlock(freshPool(), blockBytes('compressible', 'c', BLOCK));
  // The checksum the tier keeps does not match the bytes: what a flipped bit in memory would look like.
  block.crc32c = (block.crc32c! + 1) >>> 0;
  await ram.put(id(0), block);
  block.release();
  assert.equal(ram.compressedBlocks, 1);
  assert.equal(await ram.get(id(0)), undefined);
  assert.deepEqual(ram.stats()[0], { tier: 'ram', usedBytes: 0, capacityBytes: 8 * BLOCK, blocks: 0, hits: 0, misses: 1, evictions: 0, pinnedBytes: 0, errors: 1 });
  assert.equal(ram.compressedBlocks, 0);
  assert.equal(await ram.get(id(0)), undefined);
  assert.equal(ram.stats()[0].errors, 1, 'a plain miss afterwards');
});

test('concurrent puts of one block while it compresses store it once and keep no reference', async () => {
  const pool = freshPool();
  const ram = tier();
  const bytes = blockBytes('compressible', 'c', BLOCK);
  const blocks = [pooledBlock(pool, bytes), pooledBlock(pool, bytes)];
  const puts = blocks.map((block) => ram.put(id(0), block));
  assert.equal(await ram.get(id(0)), undefined, 'a get while the block compresses is a miss');
  await Promise.all(puts);
  for (const block of blocks) block.release();
  assert.equal(pool.idleCount, 2, 'a reference leaked');
  assert.deepEqual([ram.stats()[0].blocks, ram.compressedBlocks], [1, 1]);
  await expectBlock(ram.get(id(0)), bytes);
});

test('an evicted raw block’s reference is released', async () => {
  const pool = freshPool();
  const ram = tier(2);
  for (const index of [0, 1]) await putBytes(ram, id(index), pool, blockBytes('random', `b${index}`, BLOCK));
  assert.equal(pool.idleCount, 0);
  // Asked for more often than the residents, the newcomer pushes out the oldest.
  for (let i = 0; i < 3; i++) assert.equal(await ram.get(id(2)), undefined);
  await putBytes(ram, id(2), pool, blockBytes('random', 'b2', BLOCK));
  assert.equal(ram.stats()[0].evictions, 1);
  assert.equal(await ram.get(id(0)), undefined, 'the oldest was not the victim');
  assert.equal(pool.idleCount, 1, 'the victim’s memory did not go back to the pool');
});
