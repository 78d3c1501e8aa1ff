import type { ObjectStore } from '../object/types';
import type { BlockBuffer, BufferPool } from './block-buffer';
import { BlockRequest, BlockSource, blockRange } from './types';
import { crc32c } from './crc32c';
import { runsOf } from './get-runs';

interface Asked {
  request: BlockRequest;
  resolve(block: BlockBuffer): void;
  reject(err: unknown): void;
}

/**
 * Loads blocks from S3 with ranged GETs pinned to the ETag, into pooled
 * buffers, each with the CRC32C that travels with it through every tier.
 *
 * Blocks of one object asked for in the same turn of the event loop (a
 * readahead window opening, a warm-up batch) go out as runs (get-runs.ts):
 * one GET of consecutive blocks each, every block handed over as soon as
 * its own bytes are in, so the first is no later than with a GET of its own.
 */
export class OriginSource implements BlockSource {
  private asked: Asked[] = [];

  constructor(
    private readonly store: ObjectStore,
    private readonly pool: BufferPool,
  ) {}

  load(request: BlockRequest): Promise<BlockBuffer> {
    return new Promise((resolve, reject) => {
      // Whatever else is asked in this turn of the event loop may join its GET.
      if (this.asked.length === 0) setImmediate(() => this.send());
      this.asked.push({ request, resolve, reject });
    });
  }

  private send(): void {
    for (const run of runsOf(this.asked.splice(0))) void this.fetch(run);
  }

  /** One GET for the run's consecutive blocks, each resolved as it fills; the ones not filled fail with its error. */
  private async fetch(run: Asked[]): Promise<void> {
    const blocks: BlockBuffer[] = [];
    let handed = 0;
    const { key, etag } = run[0].request;
    try {
      for (const { request } of run) {
        const { start, end } = blockRange(request);
        blocks.push(this.pool.take(end - start));
      }
      await this.store.getRange({
        key,
        start: blockRange(run[0].request).start,
        end: blockRange(run[run.length - 1].request).end,
        ifMatch: etag,
        into: blocks.map((block) => block.bytes),
        onFilled: (index) => {
          const block = blocks[index];
          block.crc32c = crc32c(block.bytes);
          handed = index + 1;
          run[index].resolve(block);
        },
      });
    } catch (err) {
      for (let i = handed; i < run.length; i++) {
        blocks[i]?.release();
        run[i].reject(err);
      }
    }
  }
}
