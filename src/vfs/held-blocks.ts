import type { BlockBuffer } from '../block/block-buffer';
import { BlockRequest, BlockSource, blockKey } from '../block/types';

/** One reader's hold on a block. */
export interface Hold {
  /** The block, as the hold's reference: a caller that uses the bytes past release() retains its own. */
  readonly block: Promise<BlockBuffer>;
  /** Gives the hold up; the block goes once its last holder has. Idempotent. */
  release(): void;
}

interface Entry {
  block: Promise<BlockBuffer>;
  holders: number;
  bytes: number;
}

/**
 * The blocks open files hold (prefetched, being read, kept behind a reader),
 * within readahead's share of the memory budget. A block is loaded and
 * counted once however many readers hold it: four readers of one file share
 * one window of blocks instead of spending four shares on the same bytes.
 * Prefetch is refused when the share is spent; a block a read is waiting for
 * is always admitted (refusing it would stall the read) but counted.
 */
export class HeldBlocks {
  private readonly entries = new Map<string, Entry>();
  private used = 0;

  constructor(
    private readonly source: BlockSource,
    private readonly limit: number,
    private readonly onChange?: (used: number) => void,
  ) {}

  /** A hold on a block a read is waiting for: always granted. */
  hold(request: BlockRequest): Hold {
    return this.acquire(request, true)!;
  }

  /** A hold on a block ahead of the reader, or undefined when the share has no room for it. */
  prefetch(request: BlockRequest): Hold | undefined {
    return this.acquire(request, false);
  }

  get inUse(): number {
    return this.used;
  }

  private acquire(request: BlockRequest, demand: boolean): Hold | undefined {
    const key = blockKey(request);
    let entry = this.entries.get(key);
    if (!entry) {
      // Counted at the block size whatever the block's length: a short block still takes a whole pooled buffer.
      const bytes = request.blockSize;
      if (!demand && this.used + bytes > this.limit) return undefined;
      const created: Entry = { block: this.source.load(request), holders: 0, bytes };
      // A failed block is forgotten at once, so that the next hold asks again; its holders see the error.
      created.block.catch(() => this.forget(key, created));
      this.entries.set(key, created);
      this.add(bytes);
      entry = created;
    }
    entry.holders++;
    const held = entry;
    let released = false;
    return {
      block: held.block,
      release: () => {
        if (released) return;
        released = true;
        if (--held.holders > 0) return;
        this.forget(key, held);
        held.block.then(releaseBlock, ignore);
      },
    };
  }

  /** Only the entry given: the key may have failed and been loaded again meanwhile. */
  private forget(key: string, entry: Entry): void {
    if (this.entries.get(key) !== entry) return;
    this.entries.delete(key);
    this.add(-entry.bytes);
  }

  private add(bytes: number): void {
    this.used += bytes;
    this.onChange?.(this.used);
  }
}

function releaseBlock(block: BlockBuffer): void {
  block.release();
}

function ignore(): void {}
