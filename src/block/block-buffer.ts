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
  /** Overwrite released memory, so that a use after release shows as wrong bytes in tests. */
  poison?: boolean;
}

/** Block-sized buffers for reuse. Shorter blocks (an object's last) are views of a pooled buffer. */
export class BufferPool {
  private readonly idle: Buffer[] = [];

  constructor(private readonly options: BufferPoolOptions) {}

  take(length: number): BlockBuffer {
    if (length > this.options.size) return BlockBuffer.wrap(Buffer.allocUnsafeSlow(length));
    const memory = this.idle.pop() ?? Buffer.allocUnsafeSlow(this.options.size);
    return new BlockBuffer(memory.subarray(0, length), this, memory);
  }

  recycle(memory: Buffer): void {
    if (this.options.poison) memory.fill(0xa5);
    if (this.idle.length < this.options.maxIdle) this.idle.push(memory);
  }

  get idleCount(): number {
    return this.idle.length;
  }
}
