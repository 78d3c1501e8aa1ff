import type { BlockOpsReply, BlockOpsRequest, WarmBlock } from '../block/block-ops';
import { blockRange } from '../block/types';
import type { TargetObject } from './targets';

/** How warm-up reaches a node that loads blocks: its control socket (standalone) or its peer service (cluster). */
export interface LoadingNode {
  /** For messages: the mountpoint, or the node's id and address. */
  name: string;
  run(request: BlockOpsRequest): Promise<BlockOpsReply>;
}

/** A warm-up object as it goes: blocks still to hear of, and its failure if one of them failed. */
export interface ObjectState {
  name: string;
  size: number;
  pending: number;
  failure?: { code: string; error: string };
}

/** One block sent to one node. */
export interface Unit {
  block: WarmBlock;
  length: number;
  object: ObjectState;
}

export function objectState(object: TargetObject, blockSize: number, fanout: number): ObjectState {
  return { name: `s3://${object.bucket}/${object.key}`, size: object.size, pending: blockCount(object.size, blockSize) * fanout };
}

/** The blocks of an object at its current ETag, as every node numbers them. */
export function blocksOf(object: TargetObject, blockSize: number): WarmBlock[] {
  return Array.from({ length: blockCount(object.size, blockSize) }, (_, index) => ({
    bucket: object.bucket,
    key: object.key,
    etag: object.etag,
    index,
    objectSize: object.size,
    blockSize,
  }));
}

export function unitOf(block: WarmBlock, object: ObjectState): Unit {
  const { start, end } = blockRange(block);
  return { block, length: end - start, object };
}

function blockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}
