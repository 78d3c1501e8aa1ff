import { DIRECT_IO_ALIGNMENT, pageAlignedBuffer } from './native-memory';

/**
 * A block's bytes with a reference count, so that block-sized memory is reused
 * instead of allocated per block: a fresh 8 MiB buffer costs page faults and
 * garbage-collection work on every block, several times the CPU of the GETs
 * that fill it (docs/BENCHMARKS.md, "Findings"). The price is the counting: whoever
 * receives a BlockBuffer owns one reference and calls release() exactly once; retain() adds a reference for
 * another holder. Bytes must not be touched after one's last release.
 */
export class BlockBuffer {
  private refs = 1;
  /** CRC32C of `bytes`, set where the block enters (from S3) and checked wherever it is read back. */
  crc32c?: number;
  /** Fetched from the node of the cluster that owns it: the disk tier leaves it to that node's. */
  remote = false;

  constructor(
    /** The block's bytes: a view of `memory` as long as the block. */
    readonly bytes: Buffer,
    /** Told at the last release: gives the memory back to the pool that counts it. */
    private readonly onFree?: (memory: Buffer) => void,
    private readonly memory: Buffer = bytes,
    /** memory starts on a page boundary and is a whole number of pages long. */
    private readonly pageAligned = false,
  ) {}

  /**
   * The whole page-aligned memory behind `bytes` (which starts at its first
   * byte), for O_DIRECT I/O; undefined when the memory is not page-aligned.
   */
  get directMemory(): Buffer | undefined {
    return this.pageAligned ? this.memory : undefined;
  }

  retain(count = 1): this {
    if (this.refs <= 0) throw new Error('BlockBuffer retained after its last release');
    this.refs += count;
    return this;
  }

  release(): void {
    if (this.refs <= 0) throw new Error('BlockBuffer released twice');
    if (--this.refs === 0) this.onFree?.(this.memory);
  }

  /** Bytes of memory this block holds: its pooled buffer's whole length, whatever the block's own. */
  get memoryBytes(): number {
    return this.memory.length;
  }

  /** A buffer no pool owns or counts (tests, small reads). */
  static wrap(bytes: Buffer): BlockBuffer {
    return new BlockBuffer(bytes);
  }
}

export interface BufferPoolOptions {
  /** Length of every pooled buffer: the block size. */
  size: number;
  /**
   * The memory budget of block data (default unbounded): the pool's own
   * buffers, in use or idle, and the memory it adopts (lz4 blocks, copies)
   * while that is held. Buffers are allocated and kept for reuse only within
   * it; beyond it, take() hands out buffers of their own that are freed at
   * their last release, so the budget is exceeded only while the holders
   * hold more than it, and usedBytes says so.
   */
  capacityBytes?: number;
  /**
   * Bytes allocated together, as views of one slab (rounded down to whole
   * buffers; default one buffer). V8 paces its full GCs by how much external
   * memory grows: a RAM tier filling up one 8 MiB allocation at a time sets
   * off a GC every few blocks; one allocation per slab does not. Slabs are
   * kept for the pool's life: memory once used stays with the pool.
   */
  slabBytes?: number;
  /** Overwrite released memory, so that a use after release shows as wrong bytes in tests. */
  poison?: boolean;
}

/**
 * Block-sized buffers for reuse, and the account of all block memory against
 * one budget. Shorter blocks (an object's last) are views of a pooled buffer.
 */
export class BufferPool {
  private readonly idle: Buffer[] = [];
  private readonly capacity: number;
  private readonly slabBuffers: number;
  /** Slabs are page-aligned (native/io) and so is every buffer in them: block sizes are whole pages. */
  private readonly pageAligned: boolean;
  /** Slabs allocated: kept for reuse, in use or idle. */
  private pooledBytes = 0;
  /** Memory of its own (adopted, or handed out beyond the capacity), until its release. */
  private ownBytes = 0;
  private peak = 0;
  // Bound once: a closure per block taken would be an allocation in the hot path.
  private readonly recycle = (memory: Buffer): void => {
    this.poison(memory);
    this.idle.push(memory);
  };
  private readonly free = (memory: Buffer): void => {
    this.poison(memory);
    this.ownBytes -= memory.length;
  };

  constructor(private readonly options: BufferPoolOptions) {
    this.pageAligned = options.size % DIRECT_IO_ALIGNMENT === 0;
    this.capacity = options.capacityBytes ?? Infinity;
    this.slabBuffers = Math.max(1, Math.floor((options.slabBytes ?? options.size) / options.size));
  }

  take(length: number): BlockBuffer {
    const { size } = this.options;
    if (length > size) return BlockBuffer.wrap(Buffer.allocUnsafeSlow(length));
    if (this.idle.length === 0 && !this.grow()) return this.adopt(Buffer.allocUnsafeSlow(length));
    const memory = this.idle.pop()!;
    return new BlockBuffer(memory.subarray(0, length), this.recycle, memory, this.pageAligned);
  }

  /** Counts memory made elsewhere (an lz4 block, a copy) in the budget until its last release. */
  adopt(bytes: Buffer): BlockBuffer {
    this.ownBytes += bytes.length;
    this.peak = Math.max(this.peak, this.usedBytes);
    return new BlockBuffer(bytes, this.free);
  }

  /** Whether `bytes` more fit in the budget: for memory a holder may do without (a compressed copy). */
  hasRoom(bytes: number): boolean {
    return this.usedBytes + bytes <= this.capacity;
  }

  /** Block memory now: pooled buffers, in use or idle, and adopted memory still held. */
  get usedBytes(): number {
    return this.pooledBytes + this.ownBytes;
  }

  /** The most usedBytes has been. */
  get peakBytes(): number {
    return this.peak;
  }

  get capacityBytes(): number {
    return this.capacity;
  }

  get idleCount(): number {
    return this.idle.length;
  }

  /** A slab of whatever whole buffers the budget still has room for (up to slabBytes); false when none. */
  private grow(): boolean {
    const { size } = this.options;
    const count = Math.min(this.slabBuffers, Math.floor((this.capacity - this.usedBytes) / size));
    if (count < 1) return false;
    const slab = this.pageAligned ? pageAlignedBuffer(size * count) : Buffer.allocUnsafeSlow(size * count);
    this.pooledBytes += slab.length;
    this.peak = Math.max(this.peak, this.usedBytes);
    // Handed out from the front of the slab first, so that untouched pages stay unmapped longest.
    for (let i = count - 1; i >= 0; i--) this.idle.push(slab.subarray(i * size, (i + 1) * size));
    return true;
  }

  private poison(memory: Buffer): void {
    if (this.options.poison) memory.fill(0xa5);
  }
}
