import { crc32c } from '@node-rs/crc32';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferPool } from '../../src/block/block-buffer';
import { DiskTier } from '../../src/block/disk-tier';
import { silentLogger } from '../../src/obs/logger';
import { RamTier } from '../../src/block/ram-tier';
import { TieredCache } from '../../src/block/tiered-cache';
import type { BlockCache, BlockId, TierStats } from '../../src/block/types';
import { BlockContent, blockBytes, putBytes } from '../support/block-bytes';

/** The same contract, checked against every BlockCache: each tier and their composition. */
const BLOCK = 256 * 1024;
/** Small against the puts below, so that eviction is exercised. */
const CAPACITY = 8 * BLOCK;
// Released buffers are poisoned and reused at once: a block used after its
// last release shows as 0xa5 bytes and fails the byte comparisons.
const pool = new BufferPool({ size: BLOCK, poison: true });

type OpenCache = () => Promise<{ cache: BlockCache; close(): Promise<void> }>;

interface Options {
  /** What the blocks hold (default random, which lz4 cannot shrink). */
  content?: BlockContent;
  /** False for a cache that keeps nothing (no tiers): only misses and harmless puts are checked. */
  stores?: boolean;
}

const id = (index: number, over: Partial<BlockId> = {}): BlockId => ({ bucket: 'b', key: 'train/shard.tar', etag: '"e1"', index, ...over });
/** The last block of an object is shorter: some blocks here are. */
const lengthOf = (at: BlockId) => (at.index % 5 === 4 ? BLOCK / 4 + 3 : BLOCK);

const totals = (stats: TierStats[]) => ({
  hits: stats.reduce((sum, s) => sum + s.hits, 0),
  misses: stats.reduce((sum, s) => sum + s.misses, 0),
  blocks: stats.reduce((sum, s) => sum + s.blocks, 0),
});

function conformance(name: string, open: OpenCache, options: Options = {}) {
  const content = options.content ?? 'random';
  const bytesOf = (at: BlockId) => blockBytes(content, JSON.stringify(at), lengthOf(at));

  const put = (cache: BlockCache, at: BlockId) => putBytes(cache, at, pool, bytesOf(at));

  /** Gets the block, checks it, and releases it; false on a miss. */
  async function getChecked(cache: BlockCache, at: BlockId): Promise<boolean> {
    const block = await cache.get(at);
    if (!block) return false;
    try {
      assert.deepEqual(block.bytes, bytesOf(at), `wrong bytes for ${JSON.stringify(at)}`);
      assert.equal(block.crc32c, crc32c(block.bytes));
    } finally {
      block.release();
    }
    return true;
  }

  const check = (title: string, body: (cache: BlockCache) => Promise<void>) =>
    test(title, async () => {
      const { cache, close } = await open();
      try {
        await body(cache);
      } finally {
        await close();
      }
    });

  describe(`BlockCache conformance: ${name}`, () => {
    check('a miss is undefined', async (cache) => {
      assert.equal(await cache.get(id(0)), undefined);
    });

    check('a put never throws, nor does a put of an empty block', async (cache) => {
      await put(cache, id(1));
      const empty = pool.take(0);
      empty.crc32c = crc32c(empty.bytes);
      await cache.put(id(2, { key: 'empty' }), empty);
      empty.release();
      for (const s of cache.stats()) assert.ok(s.usedBytes <= s.capacityBytes);
    });

    if (options.stores === false) return;

    check('put then get returns the same bytes, with their crc32c', async (cache) => {
      for (const index of [0, 4]) {
        await put(cache, id(index));
        assert.ok(await getChecked(cache, id(index)), `block ${index} missed`);
      }
    });

    check('a returned block is a reference the caller owns', async (cache) => {
      await put(cache, id(0));
      const first = await cache.get(id(0));
      const second = await cache.get(id(0));
      assert.ok(first && second);
      first.release();
      assert.deepEqual(second.bytes, bytesOf(id(0)), 'released by another holder');
      second.release();
      assert.ok(await getChecked(cache, id(0)), 'released by the readers');
    });

    check('another ETag, index, key or bucket is another block', async (cache) => {
      const at = id(3);
      await put(cache, at);
      for (const other of [id(3, { etag: '"e2"' }), id(2), id(3, { key: 'train/other.tar' }), id(3, { bucket: 'c' })]) {
        assert.equal(await cache.get(other), undefined, JSON.stringify(other));
      }
      const changed = id(3, { etag: '"e2"' });
      await put(cache, changed);
      assert.ok(await getChecked(cache, changed));
      assert.ok(await getChecked(cache, at));
    });

    check('the capacity is never exceeded', async (cache) => {
      for (let index = 0; index < 5 * (CAPACITY / BLOCK); index++) {
        await put(cache, id(index));
        // Reads between the puts give the policy frequencies to weigh.
        await getChecked(cache, id(index % 7));
        for (const s of cache.stats()) assert.ok(s.usedBytes <= s.capacityBytes, `${s.tier}: ${s.usedBytes} > ${s.capacityBytes}`);
      }
      assert.ok(totals(cache.stats()).blocks > 0);
    });

    check('stats count hits, misses and blocks', async (cache) => {
      const start = totals(cache.stats());
      await cache.get(id(0));
      const missed = totals(cache.stats());
      assert.ok(missed.misses > start.misses);
      assert.equal(missed.hits, start.hits);
      await put(cache, id(0));
      const stored = totals(cache.stats());
      assert.ok(stored.blocks > start.blocks);
      assert.ok(await getChecked(cache, id(0)));
      const hit = totals(cache.stats());
      assert.equal(hit.hits, start.hits + 1);
      assert.equal(hit.misses, missed.misses);
    });

    check('a put of a block already cached is harmless', async (cache) => {
      await put(cache, id(0));
      const before = cache.stats();
      await put(cache, id(0));
      await Promise.all([put(cache, id(0)), put(cache, id(0))]);
      assert.deepEqual(
        cache.stats().map((s) => [s.blocks, s.usedBytes]),
        before.map((s) => [s.blocks, s.usedBytes]),
      );
      assert.ok(await getChecked(cache, id(0)));
    });

    check('concurrent puts and gets of overlapping blocks return only correct bytes', async (cache) => {
      const ids = Array.from({ length: 12 }, (_, i) => id(i % 6, { key: `k${i % 2}` }));
      let hits = 0;
      await Promise.all(
        Array.from({ length: 200 }, async (_, op) => {
          const at = ids[(op * 7) % ids.length];
          if (op % 3 === 0) await put(cache, at);
          else if (await getChecked(cache, at)) hits++;
        }),
      );
      for (const at of ids) if (await getChecked(cache, at)) hits++;
      assert.ok(hits > 0, 'nothing was ever cached');
      for (const s of cache.stats()) assert.ok(s.usedBytes <= s.capacityBytes);
    });
  });
}

const ram = () => new RamTier({ capacityBytes: CAPACITY, blockSize: BLOCK });
const nothingToClose = async () => {};

conformance('RamTier, incompressible blocks (kept raw)', async () => ({ cache: ram(), close: nothingToClose }));
conformance('RamTier, compressible blocks (kept lz4)', async () => ({ cache: ram(), close: nothingToClose }), { content: 'compressible' });
conformance('TieredCache of two RamTiers', async () => ({ cache: new TieredCache([ram(), ram()]), close: nothingToClose }));
const disk = async (directIo?: boolean) => {
  const dir = await mkdtemp(join(tmpdir(), 'cachalot-conformance-'));
  const cache = await DiskTier.open({ dir, capacityBytes: CAPACITY, blockSize: BLOCK, pool: new BufferPool({ size: BLOCK, poison: true }), log: silentLogger, directIo });
  return { cache, close: async () => (await cache.close(), await rm(dir, { recursive: true, force: true })) };
};

conformance('DiskTier', () => disk());
conformance('DiskTier through the page cache (no O_DIRECT)', () => disk(false));
conformance('TieredCache of a RamTier and a DiskTier', async () => {
  const lower = await disk();
  return { cache: new TieredCache([ram(), lower.cache]), close: lower.close };
}, { content: 'compressible' });
conformance('TieredCache of no tiers', async () => ({ cache: new TieredCache([]), close: nothingToClose }), { stores: false });
