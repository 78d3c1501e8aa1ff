import { BufferPool } from '../block/block-buffer';
import { BlockOps, type BlockOpsOptions } from '../block/block-ops';
import { CachingSource } from '../block/caching-source';
import { DiskTier } from '../block/disk-tier';
import { OriginSource } from '../block/origin-source';
import { RamTier } from '../block/ram-tier';
import { TieredCache } from '../block/tiered-cache';
import { PeerClient } from '../cluster/peer-client';
import { PeerSource, type PeerMember, type PeerOutcome, type Suspect } from '../cluster/peer-source';
import type { BlockCache, BlockSource, LocalObjects } from '../block/types';
import type { MountConfig } from '../config/mount-config';
import { isCachalotError, oneLine } from '../errors';
import type { ObjectStore } from '../object/types';
import type { Logger } from '../obs/logger';
import type { ClusterSecurity } from './join-cluster';

/** Slabs at most this big, and at most an eighth of the budget, so that a small budget grows in small steps. */
const SLAB_BYTES = 256 * 2 ** 20;
const SLABS_PER_BUDGET = 8;

export interface BlockStack {
  /** What the VFS reads blocks from: the cache tiers, then S3. */
  source: BlockSource;
  cache: BlockCache;
  /** Objects cached whole on disk, as files the kernel can read (FUSE passthrough); none without a disk tier. */
  local?: LocalObjects;
  /** All block memory, counted against the budget (ram_cache). */
  pool: BufferPool;
  /** Warm-up, pins and evict, asked by the control socket and by peers (docs/WARMUP.md). */
  ops: BlockOps;
  /** The peers this node passes over now (none without a cluster). */
  suspects(): Suspect[];
  /** A new disk tier size (SIGHUP); false when the mount has no disk tier to resize. */
  resizeDisk(bytes: number): Promise<boolean>;
  close(): Promise<void>;
}

/** With a cluster: who this node is, the members that serve blocks now, and the secret (and TLS) to ask them with. */
export interface PeerSharing extends ClusterSecurity {
  selfId: string;
  members: () => readonly PeerMember[];
  onOutcome: (outcome: PeerOutcome) => void;
  /** Take blocks lz4-compressed where the owner finds it pays. */
  lz4: boolean;
  /** Each block received from a peer: its encoding and bytes on the wire. */
  onReceived: (encoding: 'raw' | 'lz4', wireBytes: number) => void;
}

/** A peer that has not sent a whole block by then counts as failed, and the read goes to S3. */
const PEER_TIMEOUT_MS = 10_000;
/** A peer that failed is passed over this long (placement falls to S3 for its blocks meanwhile). */
const PEER_SUSPECT_MS = 30_000;

/**
 * The block layer of one mount: buffer pool, RAM tier, disk tier under
 * cache_dir, and the origin: S3, or with a cluster the node that owns the
 * block (docs/CLUSTER.md).
 */
export async function openBlockStack(config: MountConfig, store: ObjectStore, log: Logger, peers?: PeerSharing, onBlockOp?: BlockOpsOptions['onResult']): Promise<BlockStack> {
  const { memory } = config;
  // The pool keeps the buffers it allocates for reuse (no page faults per
  // block), up to the whole budget: readahead, disk writes and the RAM tier
  // together stay within their shares of it (src/config/memory-plan.ts).
  const pool = new BufferPool({
    size: config.blockSize,
    capacityBytes: memory.budgetBytes,
    slabBytes: Math.min(SLAB_BYTES, memory.budgetBytes / SLABS_PER_BUDGET),
    poison: process.env.CACHALOT_DEBUG_POISON === '1',
  });
  const disk = config.diskCache > 0 ? await openDiskTier(config, pool, log) : undefined;
  const ram =
    memory.ramTierBytes > 0
      ? new RamTier({
          capacityBytes: memory.ramTierBytes,
          blockSize: config.blockSize,
          admitAfterRequests: disk ? 2 : 1,
          maxCompressing: memory.ramCompressing,
          pool,
          log,
        })
      : undefined;
  const origin = new OriginSource(store, pool);
  const peerClient = peers ? new PeerClient({ token: peers.token, tls: peers.tls, pool, timeoutMs: PEER_TIMEOUT_MS, acceptLz4: peers.lz4, onReceived: peers.onReceived }) : undefined;
  const cache = new TieredCache([ram, disk].filter((t): t is RamTier | DiskTier => t !== undefined));
  const peerSource = peers ? new PeerSource({ ...peers, peers: peerClient!, origin, suspectMs: PEER_SUSPECT_MS, log }) : undefined;
  const source = new CachingSource(cache, peerSource ?? origin, memory.pendingWrites);
  return {
    source,
    cache,
    local: disk,
    pool,
    suspects: () => peerSource?.suspects() ?? [],
    ops: new BlockOps({ source, cache, pins: disk, blockSize: config.blockSize, onResult: onBlockOp }),
    resizeDisk: async (bytes) => {
      await disk?.resize(bytes);
      return disk !== undefined;
    },
    close: async () => {
      peerClient?.close();
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
