import { compareCodeUnits } from '../code-unit-order';
import type { ObjectStore } from '../object/types';
import type { BlockBuffer, BufferPool } from './block-buffer';
import { BlockRequest, BlockSource, blockRange } from './types';
import { crc32c } from './crc32c';

/** The most one GET asks for when it loads several blocks: 16 MiB (two blocks of the default size). */
export const MAX_RUN_BYTES = 16 * 2 ** 20;

/**
 * The pair of blocks that one GET loads together, as a key: blocks 2n and
 * 2n+1 of one object version when two fit in MAX_RUN_BYTES, else the block
 * alone. A warm-up asks a node for such a pair in one call, the cluster
 * places both on one node, and their fill slots are granted together.
 */
export function pairKey(block: Pick<BlockRequest, 'bucket' | 'key' | 'etag' | 'index' | 'blockSize'>): string {
  const blocksPerPair = 2 * block.blockSize <= MAX_RUN_BYTES ? 2 : 1;
  return `${block.bucket}\0${block.key}\0${block.etag}\0${Math.floor(block.index / blocksPerPair)}`;
}

interface Asked {
  request: BlockRequest;
  resolve(block: BlockBuffer): void;
  reject(err: unknown): void;
}

/**
 * Loads blocks from S3 with ranged GETs pinned to the ETag, into pooled
 * buffers, each with the CRC32C that travels with it through every tier.
 *
 * Blocks of one object asked for together (a readahead window opening, a
 * warm-up batch) go out as one GET of consecutive blocks, up to
 * MAX_RUN_BYTES: the origin pays per request as well as per byte (S3 bills
 * requests; s3rver spent about 8 ms of CPU per GET, docs/BENCHMARKS.md), and
 * each block is handed over as soon as its own bytes are in, so the first is
 * no later than with a GET of its own.
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

/**
 * The requests in runs that one GET can serve: the same version of one
 * object, consecutive blocks, at most MAX_RUN_BYTES (always at least one block).
 */
function runsOf(asked: Asked[]): Asked[][] {
  // Any total order groups a version's blocks; code-unit order is the cheap one.
  const keyed = asked.map((a) => ({ a, version: `${a.request.key}\0${a.request.etag}\0${a.request.objectSize}\0${a.request.blockSize}` }));
  keyed.sort((x, y) => compareCodeUnits(x.version, y.version) || x.a.request.index - y.a.request.index);
  const runs: Array<{ version: string; blocks: Asked[] }> = [];
  for (const { a: next, version } of keyed) {
    const run = runs[runs.length - 1];
    const last = run?.blocks[run.blocks.length - 1];
    const joins =
      last !== undefined &&
      run.version === version &&
      next.request.index === last.request.index + 1 &&
      blockRange(next.request).end - blockRange(run.blocks[0].request).start <= MAX_RUN_BYTES;
    if (joins) run.blocks.push(next);
    else runs.push({ version, blocks: [next] });
  }
  return runs.map((run) => run.blocks);
}
