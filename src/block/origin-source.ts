import type { ObjectStore } from '../object/types';
import { SingleFlight } from './single-flight';
import { BlockRequest, BlockSource, blockKey, blockRange } from './types';

/** Loads blocks from S3 with ranged GETs pinned to the ETag; concurrent loads of one block share a GET. */
export class OriginSource implements BlockSource {
  private readonly flights = new SingleFlight<Buffer>();

  constructor(private readonly store: ObjectStore) {}

  load(request: BlockRequest): Promise<Buffer> {
    return this.flights.run(blockKey(request), () =>
      this.store.getRange({ key: request.key, ...blockRange(request), ifMatch: request.etag }),
    );
  }
}
