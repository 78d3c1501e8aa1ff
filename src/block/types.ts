import type { BlockBuffer } from './block-buffer';

/**
 * The block layer's contract. A block is a fixed-size slice of one version of
 * one object: keyed by (bucket, key, ETag, index), so a cached block can never
 * be stale. A source answers with the block's bytes; tiers (RAM, disk, peers)
 * implement the same contract and compose.
 */
export interface BlockId {
  bucket: string;
  key: string;
  etag: string;
  index: number;
}

export interface BlockRequest extends BlockId {
  /** Size of the whole object, so the last block's length is known. */
  objectSize: number;
  blockSize: number;
}

export interface BlockSource {
  /**
   * The block's bytes, as a reference the caller owns and releases; typed
   * errors (PreconditionFailed when the object changed).
   */
  load(request: BlockRequest): Promise<BlockBuffer>;
}

export function blockRange(request: BlockRequest): { start: number; end: number } {
  const start = request.index * request.blockSize;
  return { start, end: Math.min(request.objectSize, start + request.blockSize) };
}

export function blockKey(id: BlockId): string {
  return `${id.bucket}\0${id.key}\0${id.etag}\0${id.index}`;
}
