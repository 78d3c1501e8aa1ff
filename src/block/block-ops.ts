import { z } from 'zod';
import { BadRequest, CachalotError, oneLine } from '../errors';
import type { CachingSource } from './caching-source';
import { blockRange, type BlockCache, type BlockRequest, type PinnedBlocks } from './types';

/**
 * A node's side of warm-up and the cache operations (docs/WARMUP.md): a
 * batch of blocks the node is to load, check, unpin or evict, asked over its
 * control socket (standalone) or by the peer RPC BlockOps (cluster). The
 * caller chose the blocks and bounds how many it asks at once. A warm
 * answers once its blocks are fetched; flush (no blocks) answers once every
 * block fetched so far is stored, and ends a warm-up.
 */
export const BLOCK_OPS = ['warm', 'check', 'unpin', 'evict', 'flush'] as const;
export type BlockOp = (typeof BLOCK_OPS)[number];

/** loaded / cached (warm, check); absent (check: not cached); done (unpin, evict); failed. */
export const BLOCK_OUTCOMES = ['loaded', 'cached', 'absent', 'done', 'failed'] as const;
export type BlockOutcome = (typeof BLOCK_OUTCOMES)[number];

/** A slice of one version of one object, as the warm-up plans it. */
export type WarmBlock = Pick<BlockRequest, 'bucket' | 'key' | 'etag' | 'index' | 'objectSize' | 'blockSize'>;

export interface BlockOpsRequest {
  op: BlockOp;
  /** With warm: pin each block (refused with PinTooLarge past the capacity). */
  pin: boolean;
  blocks: WarmBlock[];
}

export interface BlockResult {
  outcome: BlockOutcome;
  /** Whether the block is pinned on this node after the operation. */
  pinned: boolean;
  /** With failed: the CachalotError code and its one line. */
  errorCode: string;
  error: string;
}

export interface BlockOpsReply {
  results: BlockResult[];
  /** This node's block size, which the caller plans with. */
  blockSize: number;
  pinnedBytes: number;
  pinCapacityBytes: number;
}

/** Blocks in one request at most: a batch is a few of them; this only bounds what a bad caller can ask. */
export const MAX_BLOCKS_PER_REQUEST = 4096;

const blockSchema = z.object({
  bucket: z.string().min(1),
  key: z.string().min(1),
  etag: z.string(),
  index: z.number().int().min(0),
  objectSize: z.number().int().min(1),
  blockSize: z.number().int().min(1),
});
const requestSchema = z.object({
  op: z.enum(BLOCK_OPS),
  pin: z.boolean().default(false),
  blocks: z.array(blockSchema).max(MAX_BLOCKS_PER_REQUEST),
});

/** A request as it came (JSON or the proto's message), checked: every block one that can exist. */
export function parseBlockOpsRequest(value: unknown): BlockOpsRequest {
  const parsed = requestSchema.safeParse(value);
  if (!parsed.success) throw new BadRequest(`not a block operation: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  if (parsed.data.op === 'flush' && parsed.data.blocks.length > 0) throw new BadRequest('flush takes no blocks');
  for (const b of parsed.data.blocks) {
    if (b.index * b.blockSize >= b.objectSize) throw new BadRequest(`no block ${b.index} in ${b.bucket}/${b.key} of ${b.objectSize} bytes`);
  }
  return parsed.data;
}

export interface BlockOpsOptions {
  source: CachingSource;
  cache: BlockCache;
  /** The disk tier; none: pins are refused. */
  pins?: PinnedBlocks;
  blockSize: number;
  /** Counts each block done, for metrics (warm-up progress on every node). */
  onResult?: (op: BlockOp, outcome: BlockOutcome, bytes: number) => void;
}

export class BlockOps {
  constructor(private readonly options: BlockOpsOptions) {}

  /** Every block of the batch at once; a block that fails is reported, the others go on. */
  async run(request: BlockOpsRequest): Promise<BlockOpsReply> {
    const { pins, blockSize } = this.options;
    if (request.op === 'flush') await this.options.source.stored();
    const results = await Promise.all(
      request.blocks.map(async (block) => {
        const result = await this.one(request, block);
        const { start, end } = blockRange(block);
        this.options.onResult?.(request.op, result.outcome, end - start);
        return result;
      }),
    );
    return { results, blockSize, pinnedBytes: pins?.pinnedBytes ?? 0, pinCapacityBytes: pins?.pinCapacityBytes ?? 0 };
  }

  private async one({ op, pin }: BlockOpsRequest, block: WarmBlock): Promise<BlockResult> {
    const { source, cache, pins } = this.options;
    let outcome: BlockOutcome = 'done';
    try {
      switch (op) {
        case 'check':
          outcome = cache.contains(block) ? 'cached' : 'absent';
          break;
        case 'warm':
          // Pinned first, so that the disk tier admits the block when it comes.
          if (pin) await this.pin(block);
          outcome = await source.warm(block);
          break;
        case 'unpin':
          await pins?.unpin(block);
          break;
        case 'evict':
          await cache.remove(block);
          break;
      }
      return { outcome, pinned: pins?.isPinned(block) ?? false, errorCode: '', error: '' };
    } catch (err) {
      const code = err instanceof CachalotError ? err.code : 'Internal';
      return { outcome: 'failed', pinned: pins?.isPinned(block) ?? false, errorCode: code, error: oneLine(err) };
    }
  }

  private async pin(block: WarmBlock): Promise<void> {
    const { pins } = this.options;
    if (!pins) throw new CachalotError('PinTooLarge', 'this node has no disk cache to pin in (--disk-cache 0)');
    const { start, end } = blockRange(block);
    await pins.pin(block, end - start);
  }
}
