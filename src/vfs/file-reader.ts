import type { BlockBuffer } from '../block/block-buffer';
import { blocksPerRun } from '../block/get-runs';
import type { BlockRequest } from '../block/types';
import type { HeldBlocks, Hold } from './held-blocks';
import type { FileNode } from './namespace';
import type { ReadSlices } from './types';

export interface ReaderOptions {
  bucket: string;
  blockSize: number;
  /** Largest readahead window, in bytes. */
  readaheadMax: number;
}

/** Blocks a random reader keeps beside the ones it is reading, for re-reads nearby. */
const RANDOM_KEEP = 2;

/**
 * Reads one open file, pinned to the version it was opened with. Sequential
 * readers get a readahead window that doubles with each new block up to
 * readaheadMax, loaded by parallel ranged GETs; a seek resets it, so random
 * readers fetch only the blocks they touch. The blocks are held through the
 * mount's HeldBlocks, shared with other readers of the same blocks; prefetch
 * is skipped when readahead's share of the memory budget is spent.
 */
export class FileReader {
  private readonly slots = new Map<number, Hold>();
  private readonly blockCount: number;
  private readonly maxWindow: number;
  /** Blocks one GET may load together (a run, get-runs.ts): prefetch goes out in runs of as many. */
  private readonly runBlocks: number;
  private window = 0;
  private nextSequential = -1;
  private currentBlock = -1;

  constructor(
    readonly file: FileNode,
    private readonly blocks: HeldBlocks,
    private readonly options: ReaderOptions,
  ) {
    this.blockCount = Math.ceil(file.size / options.blockSize);
    this.maxWindow = Math.max(1, Math.floor(options.readaheadMax / options.blockSize));
    this.runBlocks = Math.min(this.maxWindow, blocksPerRun(options.blockSize));
  }

  /**
   * The bytes at [position, position + length) as views of the blocks that
   * hold them, each block held until release(): a FUSE reply goes to the
   * kernel straight from them, with no copy in between.
   */
  async slices(length: number, position: number): Promise<ReadSlices> {
    const end = Math.min(this.file.size, position + length);
    if (position >= end) return { buffers: [], bytes: 0, release: ignore };
    const { blockSize } = this.options;
    const first = Math.floor(position / blockSize);
    const last = Math.floor((end - 1) / blockSize);

    this.adapt(position, first);
    this.nextSequential = end;
    // This read takes its own reference to each block before anything can drop
    // the slot (a concurrent read may, while this one waits): then-callbacks run
    // in the order they were added, so the retain comes before any release.
    const demand: Array<Promise<BlockBuffer>> = [];
    for (let i = first; i <= last; i++) demand.push(this.retained(i, this.slot(i)));
    this.prefetch(last + 1, this.prefetchEnd(last));
    this.dropBehind(first, last);

    const held: BlockBuffer[] = [];
    const buffers: Buffer[] = [];
    try {
      for (const [next, pending] of demand.entries()) {
        const i = first + next;
        const block = await pending;
        held.push(block);
        const from = Math.max(position, i * blockSize) - i * blockSize;
        const to = Math.min(end, (i + 1) * blockSize) - i * blockSize;
        buffers.push(block.bytes.subarray(from, to));
      }
    } catch (err) {
      held.forEach(releaseBlock);
      for (const rest of demand.slice(held.length + 1)) rest.then(releaseBlock, ignore);
      throw err;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      held.forEach(releaseBlock);
    };
    return { buffers, bytes: end - position, release };
  }

  /** Releases every block this reader holds. */
  close(): void {
    for (const index of [...this.slots.keys()]) this.drop(index);
  }

  /**
   * A first read at offset 0, or a read near the previous one's end (the
   * kernel may reorder a little), is sequential: the window opens at one block
   * and doubles with each new block. Anything else is a seek and closes it.
   */
  private adapt(position: number, first: number): void {
    const near = Math.abs(position - this.nextSequential) <= this.options.blockSize;
    const sequential = this.nextSequential < 0 ? position === 0 : near;
    if (!sequential) {
      this.window = 0;
    } else if (this.window === 0) {
      this.window = 1;
    } else if (first !== this.currentBlock) {
      this.window = Math.min(this.maxWindow, this.window * 2);
    }
    this.currentBlock = first;
  }

  private slot(index: number): Hold {
    let slot = this.slots.get(index);
    if (!slot) {
      slot = this.blocks.hold(this.request(index));
      this.slots.set(index, slot);
    }
    return slot;
  }

  /**
   * Where prefetch stops: the window past the blocks being read, its end
   * rounded up to a whole run (blocks one GET loads together) once the
   * window is as long as a run. A window still growing is rounded to its own
   * length, so that the first read of a file is not a whole run of prefetch
   * (with 1 MiB blocks a run is 16 of them).
   */
  private prefetchEnd(last: number): number {
    const end = last + 1 + this.window;
    const run = Math.min(this.runBlocks, this.window);
    return Math.min(this.blockCount, run === 0 ? end : Math.ceil(end / run) * run);
  }

  private prefetch(from: number, to: number): void {
    for (let i = from; i < to; i++) {
      if (this.slots.has(i)) continue;
      const slot = this.blocks.prefetch(this.request(i));
      if (!slot) return;
      // A failed prefetch is retried on demand; it must not surface as unhandled.
      slot.block.catch(() => this.slots.get(i) === slot && this.drop(i));
      this.slots.set(i, slot);
    }
  }

  private request(index: number): BlockRequest {
    const { bucket, blockSize } = this.options;
    const { key, etag, size } = this.file;
    return { bucket, key, etag, index, objectSize: size, blockSize };
  }

  /** A reference of the caller's own; a failed block is forgotten so that the next read asks again. */
  private retained(index: number, slot: Hold): Promise<BlockBuffer> {
    return slot.block.then(
      (block) => block.retain(),
      (err: unknown) => {
        if (this.slots.get(index) === slot) this.drop(index);
        throw err;
      },
    );
  }

  private dropBehind(first: number, last: number): void {
    // The kernel's pieces of one large read can arrive out of order: keep the
    // block just behind a sequential reader, or a late piece would fetch it again.
    const keepFrom = this.window > 0 ? first - 1 : first - RANDOM_KEEP;
    for (const index of [...this.slots.keys()]) {
      if (index < keepFrom || (this.window === 0 && index > last + RANDOM_KEEP)) this.drop(index);
    }
  }

  private drop(index: number): void {
    const slot = this.slots.get(index);
    if (!slot) return;
    this.slots.delete(index);
    slot.release();
  }
}

function releaseBlock(block: BlockBuffer): void {
  block.release();
}

function ignore(): void {}
