import type { BlockBuffer } from './block-buffer';
import { PAIR_BLOCKS, pairKey } from './get-runs';
import { SingleFlight } from './single-flight';
import { Slots, type Slot } from './slots';
import { BlockCache, BlockRequest, BlockSource, blockKey } from './types';

/**
 * Fill slots a warm-up leaves free for reads: one pair's worth (a block and
 * the next, get-runs.ts), so that a read arriving during a warm-up fetches
 * at once; every slot freed after that goes to a waiting read first. No
 * more: a slot kept from a warm-up is one its next GET waits for while its
 * disk writes hold the others (docs/BENCHMARKS.md, "Findings").
 */
const KEPT_FOR_READS = PAIR_BLOCKS;

/** A warm-up fill still waiting for its slot, which a read of the same block raises to its own priority. */
interface BackgroundFill {
  raised: boolean;
  slot?: Slot;
}

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
 * Warm-up fills share the readers' slots in the background: a waiting read
 * is served first, and KEPT_FOR_READS slots stay free for reads.
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
  private readonly beingStored = new Map<string, { block: BlockBuffer; stored: Promise<void> }>();
  private readonly backgroundFills = new Map<string, BackgroundFill>();

  constructor(
    private readonly cache: BlockCache,
    private readonly origin: BlockSource,
    maxFilling: number,
  ) {
    this.filling = new Slots(maxFilling, maxFilling - KEPT_FOR_READS);
    this.fillingForPeers = new Slots(maxFilling);
  }

  load(request: BlockRequest): Promise<BlockBuffer> {
    const key = blockKey(request);
    if (!request.warm) this.raise(key);
    return this.flights.run(
      key,
      () => this.fetch(request, key),
      (block, callers) => block.retain(callers - 1),
    );
  }

  /**
   * Warm-up: the block into the tiers unless they hold it already
   * ('cached'), in the background; resolves once it is fetched and handed
   * to the tiers, which go on storing it (stored() waits for that): a
   * warm-up's next fetch does not wait for this one's disk write, which
   * would leave its GETs in flight short of what it asked for; the fill
   * slots still bound the blocks between fetch and store.
   */
  async warm(request: BlockRequest): Promise<'loaded' | 'cached'> {
    if (this.cache.contains(request)) return 'cached';
    const block = await this.load({ ...request, warm: true });
    block.release();
    return 'loaded';
  }

  /** Resolves once every block fetched so far has been taken by every tier. */
  async stored(): Promise<void> {
    await Promise.all([...this.beingStored.values()].map((storing) => storing.stored));
  }

  private async fetch(request: BlockRequest, key: string): Promise<BlockBuffer> {
    const storing = this.beingStored.get(key);
    if (storing) return storing.block.retain();
    const background: BackgroundFill | undefined = request.warm ? { raised: false } : undefined;
    if (background) this.backgroundFills.set(key, background);
    let slot: Slot;
    try {
      const cached = await this.cache.get(request);
      if (cached) return cached;
      slot = request.fromPeer ? this.fillingForPeers.request(false) : this.filling.request(background !== undefined && !background.raised, pairKey(request));
      if (background) background.slot = slot;
      await slot.granted;
    } finally {
      if (background) this.backgroundFills.delete(key);
    }
    let block: BlockBuffer;
    try {
      block = await this.origin.load(request);
    } catch (err) {
      slot.release();
      throw err;
    }
    // The cache is filled behind the read, never in its way; the reference
    // held here keeps the bytes valid until the tiers have taken their own.
    block.retain();
    const done = () => {
      this.beingStored.delete(key);
      block.release();
      slot.release();
    };
    this.beingStored.set(key, { block, stored: this.cache.put(request, block, request.objectSize).then(done, done) });
    return block;
  }

  /** A read joins a warm-up's fill of the block: the fill waits no longer than the read would. */
  private raise(key: string): void {
    const background = this.backgroundFills.get(key);
    if (!background) return;
    background.raised = true;
    background.slot?.raise();
  }
}
