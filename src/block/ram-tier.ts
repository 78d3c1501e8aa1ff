import { uncompress } from 'lz4-napi';
import { Logger, silentLogger } from '../obs/logger';
import { type BlockBuffer, BufferPool } from './block-buffer';
import { compressIfItPays } from './lz4-block';
import { TinyLfuPolicy } from './tiny-lfu';
import { BlockCache, BlockId, TierStats, blockKey } from './types';
import { crc32c } from './crc32c';

export interface RamTierOptions {
  capacityBytes: number;
  /** The typical block's size, which sizes the frequency sketch. */
  blockSize: number;
  /** lz4 for the blocks where it pays (default true). */
  compress?: boolean;
  /**
   * Requests a block needs before it may enter (default 0: any). 2 where a disk
   * tier lies below: a block read once is already in the kernel's page cache
   * and on disk, and keeping it here too costs a cold read new memory (page
   * faults, zeroing) for every block of a scan.
   */
  admitAfterRequests?: number;
  /**
   * Blocks compressed at once (default 2); a block offered while as many are
   * compressing is kept raw. Each holds its block until done, so the memory
   * budget sets aside room for them (src/config/memory-plan.ts), and lz4 jobs
   * leave libuv's thread pool free for the disk tier's I/O.
   */
  maxCompressing?: number;
  /**
   * The pool whose budget also counts the memory this tier holds of its own
   * (lz4 blocks, copies of short blocks), and which blocks decompressed for
   * a reader are copied into. Default: an unbounded one of its own.
   */
  pool?: BufferPool;
  log?: Logger;
}

/** A reference to the block's own memory. */
type RawEntry = { kind: 'raw'; block: BlockBuffer };
/** The compressed bytes, and what checks them when they are decompressed. */
type Lz4Entry = { kind: 'lz4'; lz4: BlockBuffer; length: number; crc32c: number };
type Entry = RawEntry | Lz4Entry;

/**
 * Blocks in memory, within a byte budget kept by TinyLFU. A block lz4 shrinks
 * well is kept compressed and decompressed on every hit; a short block is
 * copied out of its block-sized pooled buffer; any other block is kept by
 * reference, without a copy. The budget counts the memory each entry holds:
 * a reference, its whole pooled buffer.
 */
export class RamTier implements BlockCache {
  readonly name = 'ram';
  private readonly policy: TinyLfuPolicy;
  private readonly entries = new Map<string, Entry>();
  /** Puts still compressing: a second put of the key joins the first instead of storing the block twice. */
  private readonly storing = new Map<string, Promise<void>>();
  private readonly compress: boolean;
  private readonly admitAfterRequests: number;
  private readonly maxCompressing: number;
  private compressing = 0;
  private readonly pool: BufferPool;
  private readonly log: Logger;
  private lz4Count = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private errors = 0;

  constructor(options: RamTierOptions) {
    this.policy = new TinyLfuPolicy(options.capacityBytes, options.blockSize);
    this.compress = options.compress ?? true;
    this.admitAfterRequests = options.admitAfterRequests ?? 0;
    this.maxCompressing = options.maxCompressing ?? 2;
    this.pool = options.pool ?? new BufferPool({ size: options.blockSize });
    this.log = options.log ?? silentLogger;
  }

  async get(id: BlockId): Promise<BlockBuffer | undefined> {
    const key = blockKey(id);
    this.policy.record(key);
    const entry = this.entries.get(key);
    const block = entry && (entry.kind === 'raw' ? entry.block.retain() : await this.decompress(id, key, entry));
    if (!block) {
      this.misses++;
      return undefined;
    }
    this.policy.touch(key);
    this.hits++;
    return block;
  }

  put(id: BlockId, block: BlockBuffer): Promise<void> {
    const key = blockKey(id);
    if (this.entries.has(key)) {
      this.policy.touch(key);
      return Promise.resolve();
    }
    if (this.policy.frequency(key) < this.admitAfterRequests) return Promise.resolve();
    let storing = this.storing.get(key);
    if (!storing) {
      // The tier's own reference keeps the bytes valid while they compress,
      // whatever the caller does with its reference meanwhile.
      storing = this.store(id, key, block.retain()).finally(() => this.storing.delete(key));
      this.storing.set(key, storing);
    }
    return storing;
  }

  contains(id: BlockId): boolean {
    return this.entries.has(blockKey(id));
  }

  async remove(id: BlockId): Promise<void> {
    this.drop(blockKey(id));
  }

  stats(): TierStats[] {
    const { hits, misses, evictions, errors } = this;
    return [
      {
        tier: this.name,
        usedBytes: this.policy.usedBytes,
        capacityBytes: this.policy.capacityBytes,
        blocks: this.entries.size,
        hits,
        misses,
        evictions,
        pinnedBytes: 0,
        errors,
      },
    ];
  }

  /** Blocks held lz4-compressed (the rest are raw). */
  get compressedBlocks(): number {
    return this.lz4Count;
  }

  /** Takes over the put's reference to block, and releases it. */
  private async store(id: BlockId, key: string, block: BlockBuffer): Promise<void> {
    try {
      const checksum = (block.crc32c ??= crc32c(block.bytes));
      const lz4 = this.compress && this.compressing < this.maxCompressing ? await this.compressed(block) : undefined;
      // Memory of its own where that pays: the lz4 bytes, or a copy of a short
      // block (an object's last, a whole small file), which is a view of a
      // block-sized pooled buffer: keeping that would hold 8 MiB for a few KiB.
      if (lz4) {
        const entry = (): Entry => ({ kind: 'lz4', lz4: this.pool.adopt(lz4), length: block.bytes.length, crc32c: checksum });
        if (this.admit(key, lz4.length, entry, true) !== 'no room') return;
      } else if (2 * block.bytes.length < block.memoryBytes) {
        if (this.admit(key, block.bytes.length, () => ({ kind: 'raw', block: this.copy(block) }), true) !== 'no room') return;
      }
      // A reference: no new memory, so the budget always has room for it.
      this.admit(key, block.memoryBytes, () => ({ kind: 'raw', block: block.retain() }), false);
    } catch (err) {
      this.errors++;
      this.log.warn({ err, block: id }, 'ram tier: could not store a block');
    } finally {
      block.release();
    }
  }

  private async compressed(block: BlockBuffer): Promise<Buffer | undefined> {
    this.compressing++;
    try {
      return await compressIfItPays(block.bytes);
    } finally {
      this.compressing--;
    }
  }

  /**
   * Lets the block in at `size` bytes if the policy admits it and, for memory
   * of its own, if the pool's budget has room for that once the victims are
   * gone; makes the entry only then (it may be a copy).
   */
  private admit(key: string, size: number, entry: () => Entry, ownMemory: boolean): 'stored' | 'refused' | 'no room' {
    const victims = this.policy.admit(key, size);
    if (!victims) return 'refused';
    for (const victim of victims) this.drop(victim);
    this.evictions += victims.length;
    if (ownMemory && !this.pool.hasRoom(size)) {
      this.policy.remove(key);
      return 'no room';
    }
    const admitted = entry();
    this.entries.set(key, admitted);
    if (admitted.kind === 'lz4') this.lz4Count++;
    return 'stored';
  }

  private copy(block: BlockBuffer): BlockBuffer {
    const copy = this.pool.adopt(Buffer.allocUnsafeSlow(block.bytes.length));
    block.bytes.copy(copy.bytes);
    copy.crc32c = block.crc32c;
    return copy;
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.policy.remove(key);
    if (entry.kind === 'raw') {
      entry.block.release();
    } else {
      entry.lz4.release();
      this.lz4Count--;
    }
  }

  /**
   * Into a pooled buffer: lz4-napi only returns a Buffer of its own, and a
   * reader may hold the block as long as it likes, so the copy (a memcpy per
   * hit) keeps what readers hold within the pool's budget; lz4-napi's buffer
   * is left to the GC at once.
   */
  private async decompress(id: BlockId, key: string, entry: Lz4Entry): Promise<BlockBuffer | undefined> {
    // The compressed bytes stay valid while the thread pool reads them, even if the entry is evicted meanwhile.
    entry.lz4.retain();
    const bytes = await uncompress(entry.lz4.bytes)
      .catch(() => undefined)
      .finally(() => entry.lz4.release());
    if (bytes?.length === entry.length && crc32c(bytes) === entry.crc32c) {
      const block = this.pool.take(bytes.length);
      bytes.copy(block.bytes);
      block.crc32c = entry.crc32c;
      return block;
    }
    this.errors++;
    this.log.warn({ block: id }, 'ram tier: corrupt compressed block dropped');
    // Only the entry that was read: the key may have been evicted and stored again meanwhile.
    if (this.entries.get(key) === entry) this.drop(key);
    return undefined;
  }
}
