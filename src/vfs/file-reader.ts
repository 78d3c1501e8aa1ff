import type { BlockBuffer } from '../block/block-buffer';
import type { BlockSource } from '../block/types';
import type { MemoryBudget } from './memory-budget';
import type { FileNode } from './namespace';

export interface ReaderOptions {
  bucket: string;
  blockSize: number;
  /** Largest readahead window, in bytes. */
  readaheadMax: number;
}

/** A block this reader holds: one reference to it, and its share of the budget. */
interface Slot {
  block: Promise<BlockBuffer>;
  charged: number;
}

/** Blocks a random reader keeps beside the ones it is reading, for re-reads nearby. */
const RANDOM_KEEP = 2;

/**
 * Reads one open file, pinned to the version it was opened with. Sequential
 * readers get a readahead window that doubles with each new block up to
 * readaheadMax, loaded by parallel ranged GETs; a seek resets it, so random
 * readers fetch only the blocks they touch. Prefetch draws on the shared
 * budget and is skipped when the budget is spent.
 */
export class FileReader {
  private readonly slots = new Map<number, Slot>();
  private readonly blockCount: number;
  private readonly maxWindow: number;
  private window = 0;
  private nextSequential = -1;
  private currentBlock = -1;

  constructor(
    readonly file: FileNode,
    private readonly source: BlockSource,
    private readonly budget: MemoryBudget,
    private readonly options: ReaderOptions,
  ) {
    this.blockCount = Math.ceil(file.size / options.blockSize);
    this.maxWindow = Math.max(1, Math.floor(options.readaheadMax / options.blockSize));
  }

  async read(target: Buffer, length: number, position: number): Promise<number> {
    const end = Math.min(this.file.size, position + length);
    if (position >= end) return 0;
    const { blockSize } = this.options;
    const first = Math.floor(position / blockSize);
    const last = Math.floor((end - 1) / blockSize);

    this.adapt(position, first);
    this.nextSequential = end;
    // This read takes its own reference to each block before anything can drop
    // the slot (a concurrent read may, while this one waits): then-callbacks run
    // in the order they were added, so the retain comes before any release.
    const demand: Array<Promise<BlockBuffer>> = [];
    for (let i = first; i <= last; i++) demand.push(this.retained(i, this.slot(i, true)));
    this.prefetch(last + 1, Math.min(this.blockCount, last + 1 + this.window));
    this.dropBehind(first, last);

    let copied = 0;
    let next = 0;
    try {
      for (; next < demand.length; next++) {
        const i = first + next;
        const block = await demand[next];
        const from = Math.max(position, i * blockSize) - i * blockSize;
        const to = Math.min(end, (i + 1) * blockSize) - i * blockSize;
        copied += block.bytes.copy(target, copied, from, to);
        block.release();
      }
    } catch (err) {
      for (const rest of demand.slice(next + 1)) rest.then(releaseBlock, ignore);
      throw err;
    }
    return copied;
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

  private slot(index: number, demand: boolean): Slot {
    let slot = this.slots.get(index);
    if (!slot) {
      const charged = this.lengthOf(index);
      if (demand) this.budget.forceAcquire(charged);
      slot = { block: this.load(index), charged };
      this.slots.set(index, slot);
    }
    return slot;
  }

  private prefetch(from: number, to: number): void {
    for (let i = from; i < to; i++) {
      if (this.slots.has(i)) continue;
      if (!this.budget.tryAcquire(this.lengthOf(i))) return;
      const slot = { block: this.load(i), charged: this.lengthOf(i) };
      // A failed prefetch is retried on demand; it must not surface as unhandled.
      slot.block.catch(() => this.slots.get(i) === slot && this.drop(i));
      this.slots.set(i, slot);
    }
  }

  private load(index: number): Promise<BlockBuffer> {
    const { bucket, blockSize } = this.options;
    const { key, etag, size } = this.file;
    return this.source.load({ bucket, key, etag, index, objectSize: size, blockSize });
  }

  /** A reference of the caller's own; a failed block is forgotten so that the next read asks again. */
  private retained(index: number, slot: Slot): Promise<BlockBuffer> {
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
    this.budget.release(slot.charged);
    slot.block.then(releaseBlock, ignore);
  }

  private lengthOf(index: number): number {
    return Math.min(this.options.blockSize, this.file.size - index * this.options.blockSize);
  }
}

function releaseBlock(block: BlockBuffer): void {
  block.release();
}

function ignore(): void {}
