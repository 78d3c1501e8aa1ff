import type { BlockBuffer } from './block-buffer';
import { SingleFlight } from './single-flight';
import { Slots } from './slots';
import { BlockCache, BlockRequest, BlockSource, blockKey } from './types';

/**
 * The read path's block source: the cache first, then the origin (S3, and
 * with the cluster, peers), storing what the origin returns. Concurrent loads
 * of one block share one lookup and one fetch, each caller owning a reference.
 *
 * At most `maxFilling` blocks are between the start of their fetch and the
 * moment every tier has taken them: a read faster than the disk tier writes
 * waits for it, rather than leaving blocks uncached (a second read would go
 * to S3 again) or holding ever more of them in memory.
 */
export class CachingSource implements BlockSource {
  private readonly flights = new SingleFlight<BlockBuffer>();
  private readonly filling: Slots;

  constructor(
    private readonly cache: BlockCache,
    private readonly origin: BlockSource,
    maxFilling: number,
  ) {
    this.filling = new Slots(maxFilling);
  }

  load(request: BlockRequest): Promise<BlockBuffer> {
    return this.flights.run(
      blockKey(request),
      () => this.fetch(request),
      (block, callers) => block.retain(callers - 1),
    );
  }

  private async fetch(request: BlockRequest): Promise<BlockBuffer> {
    const cached = await this.cache.get(request);
    if (cached) return cached;
    await this.filling.acquire();
    let block: BlockBuffer;
    try {
      block = await this.origin.load(request);
    } catch (err) {
      this.filling.release();
      throw err;
    }
    // The cache is filled behind the read, never in its way; the reference
    // held here keeps the bytes valid until the tiers have taken their own.
    block.retain();
    const done = () => {
      block.release();
      this.filling.release();
    };
    void this.cache.put(request, block).then(done, done);
    return block;
  }
}
