import { CachalotError } from '../errors';
import { formatBytes } from './units';

/**
 * How the one memory budget of block data (`ram_cache`) is shared, decided
 * once at start: readahead's share, the disk write queue's and the RAM tier's
 * compressions in flight come out of it, and the RAM tier gets the rest. The
 * buffer pool's capacity is the whole budget, so idle buffers never take
 * more than it either (docs/CACHE.md).
 */
export interface MemoryPlan {
  /** All block memory: the buffer pool's capacity. */
  budgetBytes: number;
  /** Blocks held by open files, prefetched or being read, each counted once (`memory_limit`). */
  readaheadBytes: number;
  /** The largest readahead window of one file (`readahead_max`). */
  readaheadMax: number;
  /** Disk tier writes in flight at most; each holds one block. */
  pendingWrites: number;
  /** Blocks the RAM tier compresses at once, each held until done (0 with no RAM tier). */
  ramCompressing: number;
  /** The RAM tier's capacity: what the others leave (0: no RAM tier). */
  ramTierBytes: number;
}

export interface MemorySettings {
  ramCache: number;
  blockSize: number;
  /** Readahead's share as set, or undefined for the default. */
  memoryLimit?: number;
  readaheadMax?: number;
}

const MiB = 2 ** 20;
/** Readahead's default share of ram_cache. */
const READAHEAD_SHARE = 1 / 4;
/** Readahead's default share at most: windows of 128 MiB for 8 files at once. */
export const READAHEAD_DEFAULT_MAX = 1024 * MiB;
/** Readahead's default share with no RAM tier (ram_cache 0) to share with. */
export const READAHEAD_WITHOUT_RAM = 64 * MiB;
/**
 * One file's window: 8 GETs in flight with 8 MiB blocks read two to a GET
 * (block/get-runs.ts). On S3 each GET stream has a bandwidth of its own, so
 * a reader's throughput is the GETs it keeps in flight; the price is the
 * window's memory, from readahead's share.
 */
export const READAHEAD_MAX_DEFAULT = 128 * MiB;
/**
 * Blocks between the start of their fetch and the end of their disk write
 * at most (CachingSource's fill slots): 192 MiB of 8 MiB blocks. A warm-up
 * may take all but two of them, 22: room for its 16 blocks at once (8 GETs
 * of two) and their disk writes. Fewer, and a pair finds one free slot and
 * goes out as two GETs of one block; more, and the memory comes out of the
 * RAM tier's share (docs/BENCHMARKS.md, "Findings").
 */
const MAX_PENDING_WRITES = 24;
/** lz4 jobs at once: half of libuv's thread pool, the rest left to the disk tier's I/O. */
const RAM_COMPRESSING = 2;

/** `name` says each key as the user set it (--ram-cache, ram_cache in FILE) in a message that one does not fit. */
export function planMemory(settings: MemorySettings, name: (key: string) => string = (key) => key): MemoryPlan {
  const { ramCache, blockSize, memoryLimit } = settings;
  const readaheadBytes = memoryLimit ?? defaultReadahead(ramCache, blockSize);
  if (readaheadBytes < 2 * blockSize) {
    invalid(`${name('memory_limit')} (${formatBytes(readaheadBytes)}) must be at least two blocks of ${name('block_size')} (${formatBytes(2 * blockSize)})`);
  }
  // The write queue is fed by what readahead fetches: three quarters of its share, in whole blocks.
  const pendingWrites = Math.min(MAX_PENDING_WRITES, Math.max(1, Math.floor((readaheadBytes * 3) / 4 / blockSize)));
  const shares = readaheadBytes + pendingWrites * blockSize;
  if (ramCache > 0 && shares > ramCache) {
    if (memoryLimit === undefined) invalid(`${name('ram_cache')} (${formatBytes(ramCache)}) must be 0 or at least three blocks of ${name('block_size')} (${formatBytes(3 * blockSize)})`);
    invalid(`${name('memory_limit')} (${formatBytes(readaheadBytes)}) and the disk writes it feeds (${formatBytes(shares - readaheadBytes)}) must fit in ${name('ram_cache')} (${formatBytes(ramCache)})`);
  }
  const readaheadMax = settings.readaheadMax ?? Math.max(blockSize, Math.min(READAHEAD_MAX_DEFAULT, readaheadBytes / 2));
  if (readaheadMax > readaheadBytes / 2) {
    invalid(`${name('readahead_max')} (${formatBytes(readaheadMax)}) must be at most half of ${name('memory_limit')} (${formatBytes(readaheadBytes)})`);
  }
  // What is left, less the blocks being compressed, is the RAM tier's; none if that leaves nothing.
  const ramTierBytes = Math.max(0, ramCache - shares - RAM_COMPRESSING * blockSize);
  return {
    budgetBytes: ramCache > 0 ? ramCache : shares,
    readaheadBytes,
    readaheadMax,
    pendingWrites,
    ramCompressing: ramTierBytes > 0 ? RAM_COMPRESSING : 0,
    ramTierBytes,
  };
}

/** A quarter of the budget in whole blocks (at most 1 GiB, at least two blocks); 64 MiB without a RAM tier. */
function defaultReadahead(ramCache: number, blockSize: number): number {
  if (ramCache === 0) return Math.max(READAHEAD_WITHOUT_RAM, 2 * blockSize);
  const share = Math.floor((ramCache * READAHEAD_SHARE) / blockSize) * blockSize;
  return Math.max(2 * blockSize, Math.min(READAHEAD_DEFAULT_MAX, share));
}

function invalid(message: string): never {
  throw new CachalotError('InvalidConfig', message);
}
