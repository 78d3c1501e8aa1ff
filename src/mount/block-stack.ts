import { BufferPool } from '../block/block-buffer';
import { CachingSource } from '../block/caching-source';
import { DiskTier } from '../block/disk-tier';
import { OriginSource } from '../block/origin-source';
import { RamTier } from '../block/ram-tier';
import { TieredCache } from '../block/tiered-cache';
import type { BlockCache, BlockSource } from '../block/types';
import type { MountConfig } from '../config/mount-config';
import type { ObjectStore } from '../object/types';
import type { Logger } from '../obs/logger';

export interface BlockStack {
  /** What the VFS reads blocks from: the cache tiers, then S3. */
  source: BlockSource;
  cache: BlockCache;
  close(): Promise<void>;
}

/** The block layer of one mount: buffer pool, RAM tier, disk tier under cache_dir, origin. */
export async function openBlockStack(config: MountConfig, store: ObjectStore, log: Logger): Promise<BlockStack> {
  // Idle block buffers kept for reuse: one full readahead window's worth.
  const pool = new BufferPool({
    size: config.blockSize,
    maxIdle: Math.max(2, Math.ceil(config.readaheadMax / config.blockSize)),
    poison: process.env.CACHALOT_DEBUG_POISON === '1',
  });
  const ram = config.ramCache > 0 ? new RamTier({ capacityBytes: config.ramCache, blockSize: config.blockSize, log }) : undefined;
  const disk =
    config.diskCache > 0
      ? await DiskTier.open({
          dir: config.cacheDir,
          capacityBytes: config.diskCache,
          minFreeFraction: config.diskMinFree,
          blockSize: config.blockSize,
          pool,
          log,
        })
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
