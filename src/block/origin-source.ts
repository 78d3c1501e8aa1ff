import type { ObjectStore } from '../object/types';
import type { BlockBuffer, BufferPool } from './block-buffer';
import { SingleFlight } from './single-flight';
import { BlockRequest, BlockSource, blockKey, blockRange } from './types';

/**
 * Loads blocks from S3 with ranged GETs pinned to the ETag, into pooled
 * buffers; concurrent loads of one block share a GET, each caller owning a
 * reference.
 */
export class OriginSource implements BlockSource {
  private readonly flights = new SingleFlight<BlockBuffer>();

  constructor(
    private readonly store: ObjectStore,
    private readonly pool: BufferPool,
  ) {}

  load(request: BlockRequest): Promise<BlockBuffer> {
    return this.flights.run(
      blockKey(request),
      () => this.fetch(request),
      (block, callers) => block.retain(callers - 1),
    );
  }

  private async fetch(request: BlockRequest): Promise<BlockBuffer> {
    const { start, end } = blockRange(request);
    const block = this.pool.take(end - start);
    try {
      await this.store.getRange({ key: request.key, start, end, ifMatch: request.etag, into: block.bytes });
      return block;
    } catch (err) {
      block.release();
      throw err;
    }
  }
}
