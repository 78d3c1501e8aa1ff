import { pairKey } from '../block/get-runs';
import { ownerOf, type Candidate } from './rendezvous';

type PlacedBlock = Parameters<typeof pairKey>[0];

/**
 * The member that owns a block: every node's read path and the warm-up ask
 * the same function, so a block is loaded where later reads look for it.
 *
 * Blocks are placed a pair at a time (get-runs.ts: blocks 2n and 2n+1 of
 * one object version, when two fit in one GET), so that the owner loads both
 * with one ranged GET. Placed one by one, the two halves of a GET's worth
 * land on different nodes and cost a request each, and S3 bills per
 * request. The price: a cluster's nodes must agree on the pairing, as they
 * do on the hash (docs/CLUSTER.md).
 */
export function ownerOfBlock<T extends Candidate>(block: PlacedBlock, members: readonly T[]): T | undefined {
  return ownerOf(pairKey(block), members);
}
