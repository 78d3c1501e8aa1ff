/**
 * A block's bytes with a reference count, so that block-sized memory is reused
 * instead of allocated per block: a fresh 8 MiB buffer costs page faults and
 * GC work on every block, which profiled at 2 s of CPU per 512 MiB of cold
 * reading (docs/BENCHMARKS.md). Whoever receives a BlockBuffer owns one
 * reference and calls release() exactly once; retain() adds a reference for
 * another holder. Bytes must not be touched after one's last release.
 */
export class BlockBuffer {
  private refs = 1;
  /** CRC32C of `bytes`, set where the block enters (from S3) and checked wherever it is read back. */
  crc32c?: number;

  constructor(
    /** The block's bytes: a view of `memory` as long as the block. */
    readonly bytes: Buffer,
    private readonly pool?: BufferPool,
    private readonly memory: Buffer = bytes,
  ) {}

  retain(count = 1): this {
    if (this.refs <= 0) throw new Error('BlockBuffer retained after its last release');
    this.refs += count;
    return this;
  }

  release(): void {
    if (this.refs <= 0) throw new Error('BlockBuffer released twice');
    if (--this.refs === 0) this.pool?.recycle(this.memory);
  }

  /** Bytes of memory this block holds: its pooled buffer's whole length, whatever the block's own. */
  get memoryBytes(): number {
    return this.memory.length;
  }

  /** A buffer no pool owns (tests, small reads). */
  static wrap(bytes: Buffer): BlockBuffer {
    return new BlockBuffer(bytes);
  }
}

export interface BufferPoolOptions {
  /** Length of every pooled buffer: the block size. */
  size: number;
  /** Idle buffers kept for reuse; the rest are left to the GC. */
  maxIdle: number;
  /**
   * Buffers allocated together, as views of one slab (default 1). V8 paces
   * its full GCs by how much external memory grows: a RAM tier filling up one
   * 8 MiB allocation at a time set off a GC every few blocks (a fifth of the
   * daemon's CPU on a cold read, perf); one allocation per slab does not.
   * A slab is freed only once none of its buffers is referenced, so slabs
   * suit pools that keep every buffer (maxIdle: Infinity).
   */
  slabBuffers?: number;
  /** Overwrite released memory, so that a use after release shows as wrong bytes in tests. */
  poison?: boolean;
}

/** Block-sized buffers for reuse. Shorter blocks (an object's last) are views of a pooled buffer. */
export class BufferPool {
  private readonly idle: Buffer[] = [];

  constructor(private readonly options: BufferPoolOptions) {}

  take(length: number): BlockBuffer {
    const { size } = this.options;
    if (length > size) return BlockBuffer.wrap(Buffer.allocUnsafeSlow(length));
    if (this.idle.length === 0) this.allocateSlab();
    const memory = this.idle.pop()!;
    return new BlockBuffer(memory.subarray(0, length), this, memory);
  }

  recycle(memory: Buffer): void {
    if (this.options.poison) memory.fill(0xa5);
    if (this.idle.length < this.options.maxIdle) this.idle.push(memory);
  }

  get idleCount(): number {
    return this.idle.length;
  }

  private allocateSlab(): void {
    const { size, slabBuffers = 1 } = this.options;
    const slab = Buffer.allocUnsafeSlow(size * slabBuffers);
    // Handed out from the front of the slab first, so that untouched pages stay unmapped longest.
    for (let i = slabBuffers - 1; i >= 0; i--) this.idle.push(slab.subarray(i * size, (i + 1) * size));
  }
}
