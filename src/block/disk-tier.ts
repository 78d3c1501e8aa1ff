import { chmod, mkdir, rm, stat, statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { formatBytes } from '../config/units';
import { DirLock } from '../dir-lock';
import { CachalotError, oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import type { BlockBuffer, BufferPool } from './block-buffer';
import { supportsDirectIo } from './direct-io';
import { DiskIndex } from './disk-index';
import { io } from '../io-addon';
import { ObjectDescriptors } from './object-descriptors';
import { blockIndexOf, ObjectFiles, objectKeyOf } from './object-files';
import { SingleFlight } from './single-flight';
import { TinyLfuPolicy } from './tiny-lfu';
import { BlockCache, BlockId, blockKey, LocalObjects, ObjectFile, ObjectVersion, PinnedBlocks, TierStats } from './types';
import { crc32c } from './crc32c';

export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}

export interface DiskTierOptions {
  /** The cache dir: objects/, index/ and the lock file. */
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
   * Read and write blocks with O_DIRECT, past the page cache: no copy into
   * it, no writeback work, and no second copy of the cache in memory.
   * Default: where the filesystem supports it (not tmpfs).
   */
  directIo?: boolean;
  /**
   * Objects up to this size are read into the page cache once they become
   * whole here (readAhead): default an eighth of the machine's memory.
   */
  readAheadBytes?: number;
}

type Settings = Required<DiskTierOptions>;

/**
 * Access times order eviction after a restart. They are written in one batch
 * this often and at close, not as one index commit per hit; a kill -9 loses
 * at most this much of the order, never a block.
 */
const ACCESS_FLUSH_MS = 30_000;
/** Whole objects' files kept open between their opens (object-descriptors.ts). */
const OPEN_DESCRIPTORS = 1024;
/** Blocks checked at once before an object's file is handed to the kernel. */
const VERIFY_PARALLEL = 4;
/** A failing disk fails every block: one log line per this interval is enough. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * The NVMe tier: one sparse file per object version with each cached block at
 * its own offset (object-files.ts), an LMDB index of the blocks with their
 * CRC32C (disk-index.ts), and a TinyLFU policy in memory deciding which
 * blocks stay. A block's index entry is written after its bytes, so a kill -9
 * at any moment leaves nothing worse than unlisted bytes. Every block read is
 * checked against its CRC32C: a bad block is dropped and answered as a miss,
 * never served. An evicted block's bytes are punched out of its file; a file
 * left without data is deleted.
 *
 * A file holding every block of its object is the object: openObject() hands
 * it out for the kernel to read itself (FUSE passthrough), after checking all
 * of its blocks once in this process's life. While such a file is held, its
 * blocks are kept out of eviction's reach (a hole punched under a reader
 * would read as zeros); evicting one by hand, or a failed check, deletes the
 * whole file, which its holders go on reading.
 *
 * Pinned blocks are out of the policy's reach and flagged in the index, so
 * that they stay pinned across restarts; a pin of a block not yet here holds
 * in memory until the block comes (warm-up loads it at once).
 */
export class DiskTier implements BlockCache, PinnedBlocks, LocalObjects {
  readonly name = 'disk';
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private errors = 0;
  private readonly writes = new Set<Promise<void>>();
  /**
   * Deletions in flight, by block key (a punched block) or object key (a
   * deleted file): a write of the same bytes waits for them.
   */
  private readonly deleting = new Map<string, Promise<void>>();
  /** Block writes in flight per object: its file is not deleted under them. */
  private readonly writing = new Map<string, number>();
  /** Objects whose file is held for the kernel (openObject): holders and the object's block count. */
  private readonly held = new Map<string, { holders: number; blocks: number }>();
  /** Objects whose blocks all passed their check, or were all written, in this process's life; a dropped block takes its object out. */
  private readonly verified = new Set<string>();
  /** Blocks written in this process's life, per object not yet whole (a dropped block starts its object's count over). */
  private readonly fresh = new Map<string, number>();
  private readonly verifying = new SingleFlight<boolean>();
  private closed = false;
  /** Hits since the last flush of access times to the index. */
  private readonly accessed = new Map<string, number>();
  private readonly accessFlush = setInterval(() => this.flushAccess(), ACCESS_FLUSH_MS).unref();
  private lastErrorLog = -Infinity;
  private suppressedErrors = 0;
  /** Every pin, its block here or still to come, with the block's length. */
  private readonly pins = new Map<string, number>();
  private pinned = 0;

  private readonly files: ObjectFiles;
  private readonly descriptors: ObjectDescriptors;

  private constructor(
    private readonly options: Settings,
    private readonly lock: DirLock,
    private readonly index: DiskIndex,
    private readonly policy: TinyLfuPolicy,
  ) {
    this.files = new ObjectFiles(options.dir, options.blockSize, options.directIo);
    this.descriptors = new ObjectDescriptors(OPEN_DESCRIPTORS, (objectKey, size) => this.files.openDescriptor(objectKey, size));
  }

  static async open(options: DiskTierOptions): Promise<DiskTier> {
    const settings: Settings = {
      ...options,
      minFreeFraction: options.minFreeFraction ?? 0.05,
      statfs: options.statfs ?? freeSpace,
      directIo: options.directIo ?? false,
      readAheadBytes: options.readAheadBytes ?? totalmem() / 8,
    };
    const { dir } = settings;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    settings.directIo = options.directIo ?? (await supportsDirectIo(dir));
    // Block files are the objects' contents: no other user may read them.
    if (((await stat(dir)).mode & 0o077) !== 0) await chmod(dir, 0o700);
    const lock = DirLock.acquire(dir, 'cache dir');
    let index: DiskIndex | undefined;
    try {
      // What the block-file layout kept its writes in; nothing writes there now.
      await rm(join(dir, 'tmp'), { recursive: true, force: true });
      index = DiskIndex.open(dir);
      const tier = new DiskTier(settings, lock, index, new TinyLfuPolicy(settings.capacityBytes, settings.blockSize));
      await tier.recover();
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
      await this.files.readBlock(objectKeyOf(key), id.index, block);
      if (crc32c(block.bytes) !== entry.crc32c) throw new Error('CRC32C mismatch');
    } catch (err) {
      block.release();
      this.misses++;
      // Evicted between the lookup and the read (its bytes punched out or deleted): a miss, not a fault.
      if (!this.policy.has(key)) return undefined;
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

  async put(id: BlockId, block: BlockBuffer, objectSize?: number): Promise<void> {
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
    const write = this.write(key, block, victims, objectSize);
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
    if (!this.held.has(objectKeyOf(key))) this.policy.unpin(key);
    await this.flag(key, false);
  }

  async openObject(object: ObjectVersion): Promise<ObjectFile | undefined> {
    const { blockSize } = this.options;
    if (this.closed || object.size === 0) return undefined;
    const objectKey = objectKeyOf(blockKey({ ...object, index: 0 }));
    const keys = this.keysOf(objectKey, object.size);
    const complete = () => keys.every((key) => this.policy.has(key));
    if (!complete()) return undefined;
    if (!this.verified.has(objectKey)) {
      // Written, not only admitted: a block being written is in the policy already.
      const lengthOf = (i: number) => Math.min(blockSize, object.size - i * blockSize);
      if (!keys.every((key, i) => this.index.get(key)?.length === lengthOf(i))) return undefined;
      if (!(await this.verifying.run(objectKey, () => this.verify(object, keys)))) return undefined;
    }
    // A block may have gone while this waited; from here on nothing can take one without seeing the hold.
    const descriptor = complete() ? this.descriptors.acquire(objectKey, object.size) : undefined;
    if (descriptor === undefined) return undefined;
    this.hold(objectKey, keys);
    let released = false;
    return {
      fd: descriptor.fd,
      release: () => {
        if (released) return;
        released = true;
        this.unhold(objectKey, keys);
        this.descriptors.release(objectKey, descriptor);
      },
    };
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
    this.descriptors.closeAll();
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

  async adoptObject(object: ObjectVersion, path: string, blockCrcs: number[]): Promise<void> {
    await this.takeIn(object, (objectKey) => this.files.link(objectKey, path), blockCrcs);
  }

  async copyObject(from: ObjectVersion, to: ObjectVersion): Promise<void> {
    if (from.size !== to.size) return;
    const source = await this.openObject(from);
    if (!source) return;
    try {
      const fromKey = objectKeyOf(blockKey({ ...from, index: 0 }));
      const crcs = this.keysOf(fromKey, from.size).map((key) => this.index.get(key)?.crc32c);
      if (crcs.some((crc) => crc === undefined)) return;
      await this.takeIn(to, (objectKey) => this.files.link(objectKey, this.files.path(fromKey)), crcs as number[]);
    } finally {
      source.release();
    }
  }

  /**
   * Enters a whole object whose file `place` puts where its object key says:
   * its blocks admitted at once (bytes this node wrote are wanted here:
   * pushing out the least recently used if need be), listed with their
   * checksums, and checked (they were computed as the bytes were written).
   * Nothing changes when the tier holds some block of it already or cannot
   * admit them all.
   */
  private async takeIn(object: ObjectVersion, place: (objectKey: string) => Promise<void>, blockCrcs: number[]): Promise<void> {
    if (this.closed || object.size === 0) return;
    const objectKey = objectKeyOf(blockKey({ ...object, index: 0 }));
    const keys = this.keysOf(objectKey, object.size);
    if (blockCrcs.length !== keys.length || keys.some((key) => this.policy.has(key))) return;
    const lengthOf = (i: number) => Math.min(this.options.blockSize, object.size - i * this.options.blockSize);
    const victims: string[] = [];
    for (const [i, key] of keys.entries()) {
      const pushed = this.policy.admit(key, lengthOf(i), true);
      if (!pushed) {
        keys.slice(0, i).forEach((admitted) => this.policy.remove(admitted));
        return;
      }
      victims.push(...pushed);
    }
    try {
      await Promise.all(victims.map((victim) => this.evict(victim)));
      await this.deleting.get(objectKey);
      await place(objectKey);
      const now = Date.now();
      await Promise.all(keys.map((key, i) => this.index.put(key, { length: lengthOf(i), crc32c: blockCrcs[i]!, lastAccess: now, pinned: this.pins.has(key) })));
      for (const key of keys) if (this.pins.has(key)) this.policy.pin(key);
      this.verified.add(objectKey);
    } catch (err) {
      this.failed(err);
      await Promise.all(keys.map((key) => this.drop(key)));
    }
  }

  private keysOf(objectKey: string, size: number): string[] {
    return Array.from({ length: Math.ceil(size / this.options.blockSize) }, (_, i) => `${objectKey}\0${i}`);
  }

  /**
   * Checks every block of the object against its CRC32C, reading the file
   * through the page cache (the reader about to be handed the file reads the
   * same pages); drops the blocks that fail.
   */
  private async verify(object: ObjectVersion, keys: string[]): Promise<boolean> {
    const objectKey = objectKeyOf(keys[0]!);
    const handle = await this.files.openForReading(objectKey).catch(() => undefined);
    if (!handle) return false;
    const bad: string[] = [];
    try {
      // A few blocks at once: the disk gets several reads in flight, the checksums both cores.
      let next = 0;
      const checker = async () => {
        for (let i = next++; i < keys.length; i = next++) {
          const entry = this.index.get(keys[i]!);
          const crc = entry && (await io().crc32cOfRange(handle.fd, i * this.options.blockSize, entry.length).catch(() => undefined));
          if (crc === undefined || crc !== entry!.crc32c) bad.push(keys[i]!);
        }
      };
      await Promise.all(Array.from({ length: VERIFY_PARALLEL }, checker));
    } finally {
      await handle.close();
    }
    if (bad.length === 0) {
      this.verified.add(objectKey);
      return true;
    }
    this.errors += bad.length;
    this.options.log.warn({ bucket: object.bucket, key: object.key, etag: object.etag, blocks: bad.map(blockIndexOf) }, 'disk cache blocks failed their check; dropped');
    await Promise.all(bad.map((key) => this.drop(key)));
    return false;
  }

  /** The first holder of an object's file takes its blocks out of eviction's reach. */
  private hold(objectKey: string, keys: string[]): void {
    const held = this.held.get(objectKey);
    if (held) {
      held.holders++;
    } else {
      this.held.set(objectKey, { holders: 1, blocks: keys.length });
      for (const key of keys) this.policy.pin(key);
    }
    const now = Date.now();
    for (const key of keys) {
      this.policy.record(key);
      this.accessed.set(key, now);
    }
  }

  /** The last holder gone, the blocks go back into the policy's order, but for the ones pinned by hand. */
  private unhold(objectKey: string, keys: string[]): void {
    const held = this.held.get(objectKey);
    if (!held || --held.holders > 0) return;
    this.held.delete(objectKey);
    for (const key of keys) if (!this.pins.has(key)) this.policy.unpin(key);
  }

  private async recover(): Promise<void> {
    const { entries, dropped, orphans, reset } = await this.index.reconcile(this.options.dir, this.options.blockSize);
    if (reset) this.options.log.warn({ dir: this.options.dir, reason: reset }, 'disk cache emptied: written in another layout');
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
      { dir: this.options.dir, blocks: this.policy.count, bytes: this.policy.usedBytes, orphans, dropped, evicted: evictions.length },
      'disk cache recovered',
    );
  }

  /** Never rejects: a failure is counted, logged, and leaves the block uncached. */
  private async write(key: string, block: BlockBuffer, victims: string[], objectSize: number | undefined): Promise<void> {
    const objectKey = objectKeyOf(key);
    this.writing.set(objectKey, (this.writing.get(objectKey) ?? 0) + 1);
    let stored = false;
    try {
      await Promise.all(victims.map((victim) => this.evict(victim)));
      if (!(await this.makeRoom(key, block.bytes.length))) {
        this.policy.remove(key);
        return;
      }
      await Promise.all([this.deleting.get(key), this.deleting.get(objectKey)]);
      // No fsync: a kill -9 keeps the page cache, and bytes torn by a power
      // loss fail their CRC check when read, which drops them.
      await this.files.writeBlock(objectKey, blockIndexOf(key), block);
      await this.index.put(key, { length: block.bytes.length, crc32c: block.crc32c!, lastAccess: Date.now(), pinned: this.pins.has(key) });
      stored = true;
      // Evicted while being written (the disk filling up): the bytes go too.
      if (!this.policy.has(key)) await this.drop(key);
      else if (objectSize !== undefined) this.countFresh(objectKey, objectSize);
    } catch (err) {
      this.failed(err);
      await this.drop(key);
    } finally {
      const left = this.writing.get(objectKey)! - 1;
      if (left > 0) this.writing.set(objectKey, left);
      else this.writing.delete(objectKey);
      // A write that stored nothing may have left the file it created empty.
      if (!stored && left === 0) await this.removeIfEmpty(objectKey);
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

  /**
   * A block of the object was written: once all of them were, in this
   * process's life, the object needs no check before the kernel reads it,
   * and (up to readAheadBytes) it is read into the page cache, where its
   * blocks, written past it, are not: its next reader, handed the file,
   * reads it from memory, as a local file's second reader would.
   */
  private countFresh(objectKey: string, objectSize: number): void {
    const count = (this.fresh.get(objectKey) ?? 0) + 1;
    if (count < Math.ceil(objectSize / this.options.blockSize)) {
      this.fresh.set(objectKey, count);
      return;
    }
    this.fresh.delete(objectKey);
    this.verified.add(objectKey);
    if (objectSize <= this.options.readAheadBytes) void this.files.readAhead(objectKey).catch(() => undefined);
  }

  private evict(key: string): Promise<void> {
    this.evictions++;
    return this.drop(key);
  }

  /**
   * Forgets key: policy, index entry and bytes. Never rejects. A block of a
   * held file takes the whole file with it (deleted, not punched: its
   * holders read on through their descriptors).
   */
  private drop(key: string): Promise<void> {
    const objectKey = objectKeyOf(key);
    this.verified.delete(objectKey);
    this.fresh.delete(objectKey);
    this.descriptors.forget(objectKey);
    const held = this.held.get(objectKey);
    if (held) return this.dropObject(objectKey, held.blocks);
    this.policy.remove(key);
    return this.track(key, () => this.deleteBlock(key, objectKey));
  }

  private dropObject(objectKey: string, blocks: number): Promise<void> {
    const keys = Array.from({ length: blocks }, (_, i) => `${objectKey}\0${i}`);
    for (const key of keys) this.policy.remove(key);
    return this.track(objectKey, async () => {
      await Promise.all([...keys.map((key) => this.index.remove(key)), this.files.remove(objectKey)]);
    });
  }

  /** Punches the block out of its object's file. */
  private async deleteBlock(key: string, objectKey: string): Promise<void> {
    const length = this.index.get(key)?.length ?? this.options.blockSize;
    await this.index.remove(key);
    await this.files.punchBlock(objectKey, blockIndexOf(key), length);
    await this.removeIfEmpty(objectKey);
  }

  /** Deletes the object's file when it holds no data and nothing writes to it or holds it. */
  private removeIfEmpty(objectKey: string): Promise<void> {
    return this.track(objectKey, async () => {
      const empty = (await this.files.allocatedBytes(objectKey)) === 0;
      if (empty && !this.writing.has(objectKey) && !this.held.has(objectKey)) await this.files.remove(objectKey);
    });
  }

  /**
   * Runs a deletion under `name` (a block or object key) after any other
   * one of that name, and records it until it settles, for writes of the
   * same bytes to wait for. Never rejects.
   */
  private track(name: string, work: () => Promise<void>): Promise<void> {
    const done = (this.deleting.get(name) ?? Promise.resolve())
      .then(work)
      .catch((err) => this.failed(err))
      .finally(() => {
        if (this.deleting.get(name) === done) this.deleting.delete(name);
      });
    this.deleting.set(name, done);
    return done;
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

async function freeSpace(dir: string): Promise<DiskSpace> {
  const space = await statfs(dir);
  return { freeBytes: space.bavail * space.bsize, totalBytes: space.blocks * space.bsize };
}
