import { crc32c } from '@node-rs/crc32';
import type { ObjectStore } from '../object/types';
import type { BlockBuffer, BufferPool } from './block-buffer';
import { BlockRequest, BlockSource, blockRange } from './types';

/**
 * Loads a block from S3 with a ranged GET pinned to the ETag, into a pooled
 * buffer, and gives it the CRC32C that travels with it through every tier.
 */
export class OriginSource implements BlockSource {
  constructor(
    private readonly store: ObjectStore,
    private readonly pool: BufferPool,
  ) {}

  async load(request: BlockRequest): Promise<BlockBuffer> {
    const { start, end } = blockRange(request);
    const block = this.pool.take(end - start);
    try {
      await this.store.getRange({ key: request.key, start, end, ifMatch: request.etag, into: block.bytes });
    } catch (err) {
      block.release();
      throw err;
    }
    block.crc32c = crc32c(block.bytes);
    return block;
  }
}
