import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BlockBuffer } from '../../src/block/block-buffer';
import { BufferPool } from '../../src/block/block-buffer';
import { RamTier } from '../../src/block/ram-tier';
import { TieredCache } from '../../src/block/tiered-cache';
import type { BlockCache, BlockId } from '../../src/block/types';
import { blockBytes, expectBlock, pooledBlock, putBytes } from '../support/block-bytes';

const BLOCK = 64 * 1024;
const at: BlockId = { bucket: 'b', key: 'k', etag: '"e"', index: 0 };
const bytes = blockBytes('random', 'tiered', BLOCK);
const pool = new BufferPool({ size: BLOCK, poison: true });
const ram = () => new RamTier({ capacityBytes: 8 * BLOCK, blockSize: BLOCK });

const putInto = (tier: BlockCache) => putBytes(tier, at, pool, bytes);

const expectBytes = (pending: Promise<BlockBuffer | undefined>) => expectBlock(pending, bytes);

/** A tier whose puts wait for the gate: a slow disk. */
class GatedTier implements BlockCache {
  readonly name = 'gated';
  readonly inner = ram();
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));

  get(id: BlockId) {
    return this.inner.get(id);
  }

  async put(id: BlockId, block: BlockBuffer) {
    await this.gate;
    await this.inner.put(id, block);
  }

  contains(id: BlockId) {
    return this.inner.contains(id);
  }

  remove(id: BlockId) {
    return this.inner.remove(id);
  }

  stats() {
    return this.inner.stats();
  }

  release(): void {
    this.open();
  }
}

test('a hit in a lower tier is returned and promoted to the tiers above', async () => {
  const [top, middle, bottom] = [ram(), ram(), ram()];
  await putInto(bottom);
  await expectBytes(new TieredCache([top, middle, bottom]).get(at));
  await new Promise((resolve) => setImmediate(resolve));
  await expectBytes(top.get(at));
  await expectBytes(middle.get(at));
});

test('a hit in the top tier does not ask the ones below', async () => {
  const [top, bottom] = [ram(), ram()];
  await putInto(top);
  await expectBytes(new TieredCache([top, bottom]).get(at));
  assert.equal(bottom.stats()[0].misses, 0);
});

/** Reads every block into a fresh pooled buffer, as a disk tier does: the reader's reference is the only one. */
const disk: BlockCache = { name: 'disk', get: async () => pooledBlock(pool, bytes), put: async () => {}, contains: () => true, remove: async () => {}, stats: () => [] };

test('promotion does not hold up the read, and keeps the bytes valid after the reader releases them', async () => {
  const top = new GatedTier();
  // Resolves although the top tier's put is still waiting.
  const got = await new TieredCache([top, disk]).get(at);
  got?.release();
  // Poisoned and reused memory would now show, had the promotion not held a reference.
  pooledBlock(pool, Buffer.alloc(BLOCK, 1)).release();
  top.release();
  await new Promise((resolve) => setImmediate(resolve));
  await expectBytes(top.inner.get(at));
});

test('put offers the block to every tier; stats are the tiers’ in order', async () => {
  const tiers = [ram(), ram()];
  const cache = new TieredCache(tiers);
  await putInto(cache);
  for (const tier of tiers) await expectBytes(tier.get(at));
  assert.deepEqual(
    cache.stats().map((s) => [s.tier, s.blocks]),
    [
      ['ram', 1],
      ['ram', 1],
    ],
  );
});
