import { crc32c } from '@node-rs/crc32';
import { uncompress } from 'lz4-napi';
import { Logger, silentLogger } from '../obs/logger';
import { BlockBuffer } from './block-buffer';
import { compressIfItPays } from './lz4-block';
import { TinyLfuPolicy } from './tiny-lfu';
import { BlockCache, BlockId, TierStats, blockKey } from './types';

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
  log?: Logger;
}

/** A reference to the block's own memory. */
type RawEntry = { kind: 'raw'; block: BlockBuffer };
/** The compressed bytes, and what checks them when they are decompressed. */
type Lz4Entry = { kind: 'lz4'; bytes: Buffer; length: number; crc32c: number };
type Entry = RawEntry | Lz4Entry;

/**
 * Blocks in memory, within a byte budget kept by TinyLFU. A block lz4 shrinks
 * well is kept compressed and decompressed on every hit; any other block is
 * kept by reference, without a copy (but for short ones: see keepable).
 */
export class RamTier implements BlockCache {
  readonly name = 'ram';
  private readonly policy: TinyLfuPolicy;
  private readonly entries = new Map<string, Entry>();
  /** Puts still compressing: a second put of the key joins the first instead of storing the block twice. */
  private readonly storing = new Map<string, Promise<void>>();
  private readonly compress: boolean;
  private readonly admitAfterRequests: number;
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
      const lz4 = this.compress ? await compressIfItPays(block.bytes) : undefined;
      if (lz4) this.admit(key, lz4.length, () => ({ kind: 'lz4', bytes: lz4, length: block.bytes.length, crc32c: checksum }));
      else this.admit(key, block.bytes.length, () => ({ kind: 'raw', block: keepable(block) }));
    } catch (err) {
      this.errors++;
      this.log.warn({ err, block: id }, 'ram tier: could not store a block');
    } finally {
      block.release();
    }
  }

  /** Makes the entry (only once it is admitted: a raw one may be a copy) and pushes out the victims. */
  private admit(key: string, size: number, entry: () => Entry): void {
    const victims = this.policy.admit(key, size);
    if (!victims) return;
    for (const victim of victims) this.drop(victim);
    this.evictions += victims.length;
    const admitted = entry();
    this.entries.set(key, admitted);
    if (admitted.kind === 'lz4') this.lz4Count++;
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.policy.remove(key);
    if (entry.kind === 'raw') entry.block.release();
    else this.lz4Count--;
  }

  /**
   * lz4-napi only returns a Buffer of its own, so the block wraps it: copying
   * it into pooled memory would add a memcpy on the event loop per hit
   * without saving the allocation, which has already happened.
   */
  private async decompress(id: BlockId, key: string, entry: Lz4Entry): Promise<BlockBuffer | undefined> {
    const bytes = await uncompress(entry.bytes).catch(() => undefined);
    if (bytes?.length === entry.length && crc32c(bytes) === entry.crc32c) {
      const block = BlockBuffer.wrap(bytes);
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

/**
 * A reference the tier can keep. A short block (an object's last, a whole
 * small file) is usually a view of a block-sized pooled buffer: keeping that
 * would hold 8 MiB for a few KiB of budget, so the bytes are copied into
 * memory of their own length instead.
 */
function keepable(block: BlockBuffer): BlockBuffer {
  if (2 * block.bytes.length >= block.memoryBytes) return block.retain();
  const copy = BlockBuffer.wrap(Buffer.allocUnsafeSlow(block.bytes.length));
  block.bytes.copy(copy.bytes);
  copy.crc32c = block.crc32c;
  return copy;
}
