import { BufferPool } from '../block/block-buffer';
import { CachingSource } from '../block/caching-source';
import { DiskTier } from '../block/disk-tier';
import { OriginSource } from '../block/origin-source';
import { RamTier } from '../block/ram-tier';
import { TieredCache } from '../block/tiered-cache';
import type { BlockCache, BlockSource } from '../block/types';
import type { MountConfig } from '../config/mount-config';
import { isCachalotError, oneLine } from '../errors';
import type { ObjectStore } from '../object/types';
import type { Logger } from '../obs/logger';

const SLAB_BYTES = 256 * 2 ** 20;

export interface BlockStack {
  /** What the VFS reads blocks from: the cache tiers, then S3. */
  source: BlockSource;
  cache: BlockCache;
  close(): Promise<void>;
}

/** The block layer of one mount: buffer pool, RAM tier, disk tier under cache_dir, origin. */
export async function openBlockStack(config: MountConfig, store: ObjectStore, log: Logger): Promise<BlockStack> {
  // Every block buffer is kept for reuse once allocated, in slabs of about
  // 256 MiB: the pool holds at most what the RAM tier, readahead and pending
  // disk writes held together at their peak (ram_cache + memory_limit + 128 MiB).
  const pool = new BufferPool({
    size: config.blockSize,
    maxIdle: Infinity,
    slabBuffers: Math.max(1, Math.floor(SLAB_BYTES / config.blockSize)),
    poison: process.env.CACHALOT_DEBUG_POISON === '1',
  });
  const disk = config.diskCache > 0 ? await openDiskTier(config, pool, log) : undefined;
  const ram =
    config.ramCache > 0
      ? new RamTier({ capacityBytes: config.ramCache, blockSize: config.blockSize, admitAfterRequests: disk ? 2 : 1, log })
      : undefined;
  const cache = new TieredCache([ram, disk].filter((t): t is RamTier | DiskTier => t !== undefined));
  return {
    source: new CachingSource(cache, new OriginSource(store, pool)),
    cache,
    close: async () => {
      await disk?.close();
    },
  };
}

/**
 * The disk tier, or none when the cache dir cannot hold one (a full disk, an
 * unwritable folder): the mount then serves from RAM and S3, and says so in
 * the log. A cache dir in use by another daemon is the one start-up error.
 */
async function openDiskTier(config: MountConfig, pool: BufferPool, log: Logger): Promise<DiskTier | undefined> {
  try {
    return await DiskTier.open({
      dir: config.cacheDir,
      capacityBytes: config.diskCache,
      minFreeFraction: config.diskMinFree,
      blockSize: config.blockSize,
      pool,
      log,
    });
  } catch (err) {
    if (isCachalotError(err, 'CacheDirBusy')) throw err;
    log.error({ dir: config.cacheDir, err: oneLine(err) }, 'disk cache unavailable; serving from RAM and S3');
    return undefined;
  }
}
