import type { BlockBuffer } from './block-buffer';
import type { BlockCache, BlockId, TierStats } from './types';

/**
 * Tiers composed, fastest first (RAM, then disk): a block is looked for from
 * the top down, and one found below is copied up so that the next read of it
 * is served faster.
 */
export class TieredCache implements BlockCache {
  readonly name = 'tiered';

  constructor(private readonly tiers: BlockCache[]) {}

  async get(id: BlockId): Promise<BlockBuffer | undefined> {
    for (const [level, tier] of this.tiers.entries()) {
      const block = await tier.get(id);
      if (!block) continue;
      for (const upper of this.tiers.slice(0, level)) this.promote(upper, id, block);
      return block;
    }
    return undefined;
  }

  async put(id: BlockId, block: BlockBuffer, objectSize?: number): Promise<void> {
    await Promise.all(this.tiers.map((tier) => tier.put(id, block, objectSize)));
  }

  contains(id: BlockId): boolean {
    return this.tiers.some((tier) => tier.contains(id));
  }

  async remove(id: BlockId): Promise<void> {
    await Promise.all(this.tiers.map((tier) => tier.remove(id)));
  }

  stats(): TierStats[] {
    return this.tiers.flatMap((tier) => tier.stats());
  }

  /**
   * Not awaited: the read must not wait for a faster tier to take the block.
   * The reference taken here keeps the bytes valid until that tier is done,
   * whenever the reader releases its own.
   */
  private promote(tier: BlockCache, id: BlockId, block: BlockBuffer): void {
    block.retain();
    void tier.put(id, block).finally(() => block.release());
  }
}
