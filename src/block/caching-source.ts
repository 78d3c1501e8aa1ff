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
 * to S3 again) or holding ever more of them in memory. Requests from other
 * nodes have slots of their own: a node whose reads all wait on a peer must
 * still serve that peer's requests, or two nodes could wait on each other.
 */
export class CachingSource implements BlockSource {
  private readonly flights = new SingleFlight<BlockBuffer>();
  private readonly filling: Slots;
  private readonly fillingForPeers: Slots;
  /**
   * Blocks fetched and not yet taken by every tier, by key: a request in
   * that window (a disk write takes milliseconds) gets the same bytes
   * instead of a second fetch from S3.
   */
  private readonly beingStored = new Map<string, BlockBuffer>();

  constructor(
    private readonly cache: BlockCache,
    private readonly origin: BlockSource,
    maxFilling: number,
  ) {
    this.filling = new Slots(maxFilling);
    this.fillingForPeers = new Slots(maxFilling);
  }

  load(request: BlockRequest): Promise<BlockBuffer> {
    return this.flights.run(
      blockKey(request),
      () => this.fetch(request),
      (block, callers) => block.retain(callers - 1),
    );
  }

  private async fetch(request: BlockRequest): Promise<BlockBuffer> {
    const key = blockKey(request);
    const storing = this.beingStored.get(key);
    if (storing) return storing.retain();
    const cached = await this.cache.get(request);
    if (cached) return cached;
    const slots = request.fromPeer ? this.fillingForPeers : this.filling;
    await slots.acquire();
    let block: BlockBuffer;
    try {
      block = await this.origin.load(request);
    } catch (err) {
      slots.release();
      throw err;
    }
    // The cache is filled behind the read, never in its way; the reference
    // held here keeps the bytes valid until the tiers have taken their own.
    block.retain();
    this.beingStored.set(key, block);
    const done = () => {
      this.beingStored.delete(key);
      block.release();
      slots.release();
    };
    void this.cache.put(request, block).then(done, done);
    return block;
  }
}
