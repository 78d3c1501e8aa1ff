import type { BlockBuffer } from './block-buffer';
import { SingleFlight } from './single-flight';
import { BlockCache, BlockRequest, BlockSource, blockKey } from './types';

/**
 * The read path's block source: the cache first, then the origin (S3, and
 * with the cluster, peers), storing what the origin returns. Concurrent loads
 * of one block share one lookup and one fetch, each caller owning a reference.
 */
export class CachingSource implements BlockSource {
  private readonly flights = new SingleFlight<BlockBuffer>();

  constructor(
    private readonly cache: BlockCache,
    private readonly origin: BlockSource,
  ) {}

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
    const block = await this.origin.load(request);
    // The cache is filled behind the read, never in its way; the reference
    // held here keeps the bytes valid until the tiers have taken their own.
    block.retain();
    const release = () => block.release();
    void this.cache.put(request, block).then(release, release);
    return block;
  }
}
