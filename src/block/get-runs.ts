import { compareCodeUnits } from '../code-unit-order';
import { blockRange, type BlockRequest } from './types';

/**
 * Which blocks one S3 GET loads together: the rule every layer that groups
 * blocks follows (docs/CACHE.md, "Runs").
 *
 * A run is consecutive blocks of one object version, at most MAX_RUN_BYTES,
 * always at least one block: OriginSource sends the blocks asked for in one
 * turn of the event loop as runs, and a sequential reader's prefetch goes
 * out in whole runs (blocksPerRun). Fewer, longer GETs for the same bytes,
 * since the origin pays per request as well as per byte (S3 bills requests);
 * the first block is no later, as each is handed on once its own bytes are
 * in, but a longer run puts more bytes behind one stream.
 *
 * A pair is blocks 2n and 2n+1 of one object version when two fit in a
 * run, else the block alone: the unit that the cluster places on one owner,
 * whose fill slots are granted together and that one warm-up call carries,
 * so that its owner loads it with one GET. Two blocks, not a whole run:
 * placement is a contract among a cluster's nodes (a node that placed blocks
 * otherwise would ask them of nodes that do not hold them), and two is one
 * run at the default block size of 8 MiB.
 */
export const MAX_RUN_BYTES = 16 * 2 ** 20;

/** Blocks in a pair, when they fit in one run. */
export const PAIR_BLOCKS = 2;

/** Blocks of blockSize that one run holds (at least one). */
export function blocksPerRun(blockSize: number): number {
  return Math.max(1, Math.floor(MAX_RUN_BYTES / blockSize));
}

/** The pair a block belongs to, as a key. */
export function pairKey(block: Pick<BlockRequest, 'bucket' | 'key' | 'etag' | 'index' | 'blockSize'>): string {
  const blocksPerPair = PAIR_BLOCKS * block.blockSize <= MAX_RUN_BYTES ? PAIR_BLOCKS : 1;
  return `${block.bucket}\0${block.key}\0${block.etag}\0${Math.floor(block.index / blocksPerPair)}`;
}

/** The requests in runs that one GET can serve each, in index order within a run. */
export function runsOf<T extends { request: BlockRequest }>(asked: readonly T[]): T[][] {
  // Any total order groups a version's blocks; code-unit order is the cheap one.
  const keyed = asked.map((a) => ({ a, version: `${a.request.key}\0${a.request.etag}\0${a.request.objectSize}\0${a.request.blockSize}` }));
  keyed.sort((x, y) => compareCodeUnits(x.version, y.version) || x.a.request.index - y.a.request.index);
  const runs: Array<{ version: string; blocks: T[] }> = [];
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
