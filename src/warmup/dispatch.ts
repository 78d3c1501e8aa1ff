import type { BlockOp, BlockOpsReply, BlockResult } from '../block/block-ops';
import { PAIR_BLOCKS } from '../block/get-runs';
import { isCachalotError, oneLine } from '../errors';
import type { LoadingNode, Unit } from './plan';
import type { UnitQueue } from './unit-queue';

export interface DispatchOptions {
  op: BlockOp;
  pin: boolean;
  /** Blocks loading at once per node, at most (--parallel). */
  parallel: number;
  /** Checked before each batch: Ctrl-C stops sending, what is in flight finishes. */
  stopped: () => boolean;
  /** Each unit's result, in order; a call that failed fails each of its units. */
  onResult: (node: LoadingNode, unit: Unit, result: BlockResult, reply?: BlockOpsReply) => void;
  /** Loads: a node that loaded blocks and then failed its flush; what it loaded may not be stored. */
  onFlushFailed?: (node: LoadingNode, failure: { code: string; error: string }) => void;
}

/** Batches of operations that load nothing: many blocks a call. */
const CHECK_BATCH = 512;
/**
 * Blocks a load call carries: a pair, one GET's worth (block/get-runs.ts),
 * so that a call's blocks arrive together and the next call follows each
 * one at once; larger calls make every GET wait for the slowest of its
 * batch. A call's blocks are consecutive blocks of one object version: a
 * pair that one GET cannot serve would cost two.
 */
const LOAD_BATCH = PAIR_BLOCKS;

function consecutive(last: Unit, next: Unit): boolean {
  const [a, b] = [last.block, next.block];
  return a.bucket === b.bucket && a.key === b.key && a.etag === b.etag && b.index === a.index + 1;
}

/**
 * Sends every node its units in batches. For loads, a node has at most
 * `parallel` blocks in flight: many small batches at once, so that one
 * batch's last block does not leave the node idle while the next is asked.
 * A node answers a load once its blocks are fetched, and stores them after:
 * a node that loaded anything is flushed at the end, so that the warm-up
 * ends with every block it loaded stored.
 */
export async function dispatch(queues: Map<LoadingNode, UnitQueue>, options: DispatchOptions): Promise<void> {
  const { op, pin, parallel, stopped, onResult } = options;
  const loads = op === 'warm';
  const batch = loads ? Math.min(LOAD_BATCH, parallel) : CHECK_BATCH;
  const callsPerNode = loads ? Math.floor(parallel / batch) : 2;
  const perNode = async (node: LoadingNode, units: UnitQueue) => {
    let sent = false;
    const caller = async () => {
      while (!stopped()) {
        const taken = await units.take(batch, loads ? consecutive : undefined);
        if (taken.length === 0 || stopped()) return;
        sent = true;
        try {
          const reply = await node.run({ op, pin, blocks: taken.map((unit) => unit.block) });
          taken.forEach((unit, i) => onResult(node, unit, reply.results[i] ?? failed(`${node.name} answered fewer results than blocks`), reply));
        } catch (err) {
          for (const unit of taken) onResult(node, unit, failed(oneLine(err), isCachalotError(err) ? err.code : 'Internal'));
        }
      }
    };
    await Promise.all(Array.from({ length: callsPerNode }, caller));
    if (!loads || !sent) return;
    try {
      await node.run({ op: 'flush', pin: false, blocks: [] });
    } catch (err) {
      options.onFlushFailed?.(node, { code: isCachalotError(err) ? err.code : 'Internal', error: `flush: ${oneLine(err)}` });
    }
  };
  await Promise.all([...queues].map(([node, units]) => perNode(node, units)));
}

function failed(error: string, errorCode = 'Internal'): BlockResult {
  return { outcome: 'failed', pinned: false, errorCode, error };
}
