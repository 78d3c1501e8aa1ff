import { chmod, mkdir, open as openFile, readdir, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes } from '../config/units';
import { DirLock } from '../dir-lock';
import { CachalotError, oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import type { BlockBuffer, BufferPool } from './block-buffer';
import { readDirect, supportsDirectIo, writeDirect } from './direct-io';
import { blockFile, DiskEntry, DiskIndex } from './disk-index';
import { TinyLfuPolicy } from './tiny-lfu';
import { BlockCache, BlockId, blockKey, PinnedBlocks, TierStats } from './types';
import { crc32c } from './crc32c';

export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}

export interface DiskTierOptions {
  /** The cache dir: blocks/, tmp/, index/ and the lock file. */
  dir: string;
  capacityBytes: number;
  /** Share of the filesystem left free whatever the capacity, for the disk's other users. Default 0.05. */
  minFreeFraction?: number;
  pool: BufferPool;
  /** The typical block's size, which sizes the policy's frequency sketch. */
  blockSize: number;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The filesystem's free and total bytes; tests inject one. Default fs.promises.statfs. */
  statfs?: (dir: string) => Promise<DiskSpace>;
  /**
   * Read and write block files with O_DIRECT, past the page cache: no copy
   * into it (a quarter of the daemon's CPU on a cold read, perf), no
   * writeback work, and no second copy of the cache in memory. Default:
   * where the filesystem supports it (not tmpfs).
   */
  directIo?: boolean;
}

type Settings = Required<DiskTierOptions>;

/**
 * Access times order eviction after a restart. They are written in one batch
 * this often and at close, not as one index commit per hit; a kill -9 loses
 * at most this much of the order, never a block.
 */
const ACCESS_FLUSH_MS = 30_000;
/** A failing disk fails every block: one log line per this interval is enough. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * The NVMe tier: one file per block under blocks/, an LMDB index of them, and
 * a TinyLFU policy in memory deciding what stays. A file is written under
 * tmp/ and renamed into place before its index entry exists, so a kill -9 at
 * any moment leaves nothing worse than unlisted files, which open() deletes.
 * Every read is checked against the CRC32C recorded at write time: a bad
 * file is deleted and answered as a miss, never served.
 *
 * Pinned blocks are out of the policy's reach and flagged in the index, so
 * that they stay pinned across restarts; a pin of a block not yet here holds
 * in memory until the block comes (warm-up loads it at once).
 */
export class DiskTier implements BlockCache, PinnedBlocks {
  readonly name = 'disk';
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private errors = 0;
  private readonly writes = new Set<Promise<void>>();
  /** Deletions in flight, by key: a new file for the key must not be renamed in before the old one is gone. */
  private readonly deleting = new Map<string, Promise<void>>();
  private tmpSeq = 0;
  private closed = false;
  /** Hits since the last flush of access times to the index. */
  private readonly accessed = new Map<string, number>();
  private readonly accessFlush = setInterval(() => this.flushAccess(), ACCESS_FLUSH_MS).unref();
  private lastErrorLog = -Infinity;
  private suppressedErrors = 0;
  /** Every pin, its block here or still to come, with the block's length. */
  private readonly pins = new Map<string, number>();
  private pinned = 0;

  private constructor(
    private readonly options: Settings,
    private readonly lock: DirLock,
    private readonly index: DiskIndex,
    private readonly policy: TinyLfuPolicy,
  ) {}

  static async open(options: DiskTierOptions): Promise<DiskTier> {
    const settings: Settings = {
      ...options,
      minFreeFraction: options.minFreeFraction ?? 0.05,
      statfs: options.statfs ?? freeSpace,
      directIo: options.directIo ?? false,
    };
    const { dir } = settings;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    settings.directIo = options.directIo ?? (await supportsDirectIo(dir));
    // Block files are the objects' contents: no other user may read them.
    if (((await stat(dir)).mode & 0o077) !== 0) await chmod(dir, 0o700);
    const lock = DirLock.acquire(dir, 'cache dir');
    let index: DiskIndex | undefined;
    try {
      const leftovers = await emptyTmp(dir);
      index = DiskIndex.open(dir);
      const tier = new DiskTier(settings, lock, index, new TinyLfuPolicy(settings.capacityBytes, settings.blockSize));
      await tier.recover(leftovers);
      return tier;
    } catch (err) {
      await index?.close();
      lock.release();
      throw err;
    }
  }

  async get(id: BlockId): Promise<BlockBuffer | undefined> {
    const key = blockKey(id);
    this.policy.record(key);
    // The policy, not the index, says what is cached: an evicted entry stays
    // in the index until its deletion commits, a new one enters it last.
    const entry = !this.closed && this.policy.has(key) ? this.index.get(key) : undefined;
    if (!entry) {
      this.misses++;
      return undefined;
    }
    const block = this.options.pool.take(entry.length);
    try {
      await this.readBlock(entry, block);
    } catch (err) {
      block.release();
      this.misses++;
      // Evicted between the lookup and the read: a miss, not a fault.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !this.policy.has(key)) return undefined;
      this.errors++;
      this.options.log.warn({ block: id, reason: oneLine(err) }, 'disk cache block unreadable; deleted');
      await this.drop(key);
      return undefined;
    }
    block.crc32c = entry.crc32c;
    this.policy.touch(key);
    this.hits++;
    this.accessed.set(key, Date.now());
    return block;
  }

  async put(id: BlockId, block: BlockBuffer): Promise<void> {
    const key = blockKey(id);
    // Another node owns a remote block and keeps it on its disk: a copy here
    // would push out blocks this node owns (docs/CLUSTER.md).
    if (this.closed || block.remote || this.policy.has(key)) return;
    const pinned = this.pins.has(key);
    const victims = this.policy.admit(key, block.bytes.length, pinned);
    if (!victims) return;
    if (pinned) this.policy.pin(key);
    block.retain();
    block.crc32c ??= crc32c(block.bytes);
    const write = this.write(key, block, victims);
    this.writes.add(write);
    try {
      await write;
    } finally {
      this.writes.delete(write);
      block.release();
    }
  }

  contains(id: BlockId): boolean {
    return !this.closed && this.policy.has(blockKey(id));
  }

  /** Evicted by hand: the pin goes too. */
  async remove(id: BlockId): Promise<void> {
    const key = blockKey(id);
    this.forgetPin(key);
    if (this.policy.has(key)) await this.evict(key);
  }

  async pin(id: BlockId, length: number): Promise<void> {
    const key = blockKey(id);
    if (this.pins.has(key)) return;
    const capacity = this.policy.capacityBytes;
    if (this.pinned + length > capacity) {
      throw new CachalotError('PinTooLarge', `pins would pass the disk cache's ${formatBytes(capacity)} (${formatBytes(this.pinned)} pinned already)`);
    }
    this.pins.set(key, length);
    this.pinned += length;
    if (!this.policy.has(key)) return;
    this.policy.pin(key);
    await this.flag(key, true);
  }

  async unpin(id: BlockId): Promise<void> {
    const key = blockKey(id);
    if (!this.forgetPin(key)) return;
    this.policy.unpin(key);
    await this.flag(key, false);
  }

  isPinned(id: BlockId): boolean {
    return this.pins.has(blockKey(id));
  }

  get pinnedBytes(): number {
    return this.pinned;
  }

  get pinCapacityBytes(): number {
    return this.policy.capacityBytes;
  }

  stats(): TierStats[] {
    return [
      {
        tier: this.name,
        usedBytes: this.policy.usedBytes,
        capacityBytes: this.policy.capacityBytes,
        blocks: this.policy.count,
        hits: this.hits,
        misses: this.misses,
        evictions: this.evictions,
        pinnedBytes: this.pinned,
        errors: this.errors,
      },
    ];
  }

  /** A new capacity (SIGHUP); the least recently used blocks that no longer fit are deleted. */
  async resize(capacityBytes: number): Promise<void> {
    await Promise.all(this.policy.resize(capacityBytes).map((victim) => this.evict(victim)));
  }

  /** Waits for the writes in flight, then closes the index and releases the cache dir. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.accessFlush);
    await Promise.all(this.writes);
    await this.flushAccess();
    await Promise.all(this.deleting.values());
    await this.index.close();
    this.lock.release();
  }

  private forgetPin(key: string): boolean {
    const length = this.pins.get(key);
    if (length === undefined) return false;
    this.pins.delete(key);
    this.pinned -= length;
    return true;
  }

  /** Records a pin or unpin in the block's index entry (none yet: its write will record it). */
  private async flag(key: string, pinned: boolean): Promise<void> {
    const entry = this.index.get(key);
    if (entry) await this.index.put(key, { ...entry, pinned }).catch((err) => this.failed(err));
  }

  private async flushAccess(): Promise<void> {
    const batch = [...this.accessed];
    this.accessed.clear();
    await Promise.all(
      batch.map(([key, lastAccess]) => {
        const entry = this.index.get(key);
        return entry ? this.index.put(key, { ...entry, lastAccess }).catch((err) => this.failed(err)) : undefined;
      }),
    );
  }

  private async recover(tmpFiles: number): Promise<void> {
    const { entries, dropped, orphans } = await this.index.reconcile(this.options.dir);
    let total = entries.reduce((sum, [, entry]) => sum + entry.length, 0);
    const evictions: Promise<void>[] = [];
    // Oldest access first, so the policy's LRU order is the one before the
    // restart; the oldest go if the capacity has shrunk since.
    for (const [key, entry] of entries) {
      const pinned = entry.pinned === true;
      if ((pinned || total <= this.policy.capacityBytes) && this.policy.admit(key, entry.length, pinned)) {
        if (!pinned) continue;
        this.policy.pin(key);
        this.pins.set(key, entry.length);
        this.pinned += entry.length;
        continue;
      }
      total -= entry.length;
      evictions.push(this.evict(key));
    }
    await Promise.all(evictions);
    this.options.log.info(
      { dir: this.options.dir, blocks: this.policy.count, bytes: this.policy.usedBytes, tmpFiles, orphans, dropped, evicted: evictions.length },
      'disk cache recovered',
    );
  }

  /** Never rejects: a failure is counted, logged, and leaves the block uncached. */
  private async write(key: string, block: BlockBuffer, victims: string[]): Promise<void> {
    const file = blockFile(key);
    const tmp = join(this.options.dir, 'tmp', String(++this.tmpSeq));
    try {
      await Promise.all(victims.map((victim) => this.evict(victim)));
      if (!(await this.makeRoom(key, block.bytes.length))) {
        this.policy.remove(key);
        return;
      }
      await this.deleting.get(key);
      // No fsync: a kill -9 keeps the page cache, and a file torn by a power
      // loss fails its CRC check when read, which deletes it.
      const direct = this.options.directIo ? block.directMemory : undefined;
      if (direct) await writeDirect(tmp, direct, block.bytes.length);
      else await writeFile(tmp, block.bytes, { flag: 'wx', mode: 0o600 });
      await rename(tmp, join(this.options.dir, file));
      await this.index.put(key, { file, length: block.bytes.length, crc32c: block.crc32c!, lastAccess: Date.now(), pinned: this.pins.has(key) });
      // Evicted while being written (the disk filling up): the file goes too.
      if (!this.policy.has(key)) await this.drop(key);
    } catch (err) {
      this.failed(err);
      // If even this fails, the next open() deletes what tmp/ holds.
      await rm(tmp, { force: true }).catch(() => undefined);
      await this.drop(key);
    }
  }

  /**
   * Keeps minFreeFraction of the filesystem free, evicting the least recently
   * used blocks for it; false when even an empty tier would not make room.
   */
  private async makeRoom(key: string, length: number): Promise<boolean> {
    const { freeBytes, totalBytes } = await this.options.statfs(this.options.dir);
    const floor = this.options.minFreeFraction * totalBytes;
    let free = freeBytes - length;
    for (let victim = this.policy.oldest(); free < floor && victim !== undefined && victim !== key; victim = this.policy.oldest()) {
      // A block still being written has no entry and frees nothing yet.
      free += this.index.get(victim)?.length ?? 0;
      await this.evict(victim);
    }
    return free >= floor;
  }

  /** Reads the entry's file into the block, all of it, and checks its CRC32C. */
  private async readBlock(entry: DiskEntry, block: BlockBuffer): Promise<void> {
    const path = join(this.options.dir, entry.file);
    const { bytes } = block;
    const direct = this.options.directIo ? block.directMemory : undefined;
    if (direct) await readDirect(path, direct, bytes.length);
    else await readBuffered(path, bytes);
    if (crc32c(bytes) !== entry.crc32c) throw new Error('CRC32C mismatch');
  }

  private evict(key: string): Promise<void> {
    this.evictions++;
    return this.drop(key);
  }

  /** Forgets key: policy, index entry and file. Never rejects. */
  private drop(key: string): Promise<void> {
    this.policy.remove(key);
    const done = this.deleteBlock(key)
      .catch((err) => this.failed(err))
      .finally(() => {
        if (this.deleting.get(key) === done) this.deleting.delete(key);
      });
    this.deleting.set(key, done);
    return done;
  }

  private async deleteBlock(key: string): Promise<void> {
    await Promise.all([this.index.remove(key), rm(join(this.options.dir, blockFile(key)), { force: true })]);
  }

  private failed(err: unknown): void {
    this.errors++;
    const now = Date.now();
    if (now - this.lastErrorLog < ERROR_LOG_INTERVAL_MS) {
      this.suppressedErrors++;
      return;
    }
    this.options.log.error({ err, dir: this.options.dir, suppressed: this.suppressedErrors }, 'disk cache I/O failed');
    this.lastErrorLog = now;
    this.suppressedErrors = 0;
  }
}

/** Deletes what writes cut short left in tmp/; returns how many. */
async function emptyTmp(dir: string): Promise<number> {
  const tmp = join(dir, 'tmp');
  // None on the first open.
  const leftovers = await readdir(tmp).catch(() => []);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  return leftovers.length;
}

async function freeSpace(dir: string): Promise<DiskSpace> {
  const space = await statfs(dir);
  return { freeBytes: space.bavail * space.bsize, totalBytes: space.blocks * space.bsize };
}

async function readBuffered(path: string, bytes: Buffer): Promise<void> {
  const handle = await openFile(path, 'r');
  try {
    for (let offset = 0; offset < bytes.length; ) {
      const { bytesRead } = await handle.read(bytes, offset, bytes.length - offset, offset);
      if (bytesRead === 0) throw new Error(`short file: ${offset} of ${bytes.length} bytes`);
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
}
