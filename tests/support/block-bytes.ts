import { crc32c } from '@node-rs/crc32';
import assert from 'node:assert/strict';
import type { BlockBuffer, BufferPool } from '../../src/block/block-buffer';
import type { BlockCache, BlockId } from '../../src/block/types';
import { sampleBytes } from '../../src/embedded/sample-dataset';

/** Random words: text-like bytes that lz4 shrinks to about half, different for every seed. */
const WORDS = ['tensor ', 'gradient ', 'epoch ', 'batch ', 'label ', 'shard ', 'weight ', 'loss ', 'token ', 'layer '];

export type BlockContent = 'random' | 'compressible';

/** Deterministic bytes for a seed: incompressible (random) or text-like. */
export function blockBytes(content: BlockContent, seed: string, length: number): Buffer {
  const random = sampleBytes(seed, length);
  if (content === 'random') return random;
  const text = Buffer.allocUnsafe(length);
  for (let i = 0, at = 0; at < length; i++) at += text.write(WORDS[random[i] % WORDS.length], at);
  return text;
}

/** The bytes in a pooled block with its CRC32C, as the origin hands blocks to the tiers. */
export function pooledBlock(pool: BufferPool, bytes: Buffer): BlockBuffer {
  const block = pool.take(bytes.length);
  bytes.copy(block.bytes);
  block.crc32c = crc32c(block.bytes);
  return block;
}

/**
 * Offers the bytes as the read path does: the caller keeps its reference
 * until the put resolves, then releases it. The block is returned for
 * identity checks only.
 */
export async function putBytes(cache: BlockCache, at: BlockId, pool: BufferPool, bytes: Buffer): Promise<BlockBuffer> {
  const block = pooledBlock(pool, bytes);
  try {
    await cache.put(at, block);
  } finally {
    block.release();
  }
  return block;
}

/** Asserts that a cache returned the bytes, with their CRC32C, and releases the block. */
export async function expectBlock(pending: Promise<BlockBuffer | undefined>, bytes: Buffer): Promise<void> {
  const block = await pending;
  assert.ok(block, 'a miss');
  try {
    assert.deepEqual(block.bytes, bytes);
    assert.equal(block.crc32c, crc32c(bytes));
  } finally {
    block.release();
  }
}
