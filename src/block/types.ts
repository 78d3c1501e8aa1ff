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
  /**
   * Asked by another node of the cluster: served from this node's tiers or
   * S3, never forwarded to a third node (two nodes whose membership views
   * differ for a moment could otherwise pass a request back and forth).
   */
  fromPeer?: boolean;
  /**
   * Loaded for a warm-up: at background priority (reads go first), and never
   * forwarded to a peer (the warm-up asked this node because it owns it).
   */
  warm?: boolean;
}

export interface BlockSource {
  /**
   * The block's bytes, as a reference the caller owns and releases; typed
   * errors (PreconditionFailed when the object changed).
   */
  load(request: BlockRequest): Promise<BlockBuffer>;
}

/**
 * A cache tier: RAM, disk, and the tiered composition of them. A miss is
 * undefined, never an exception; a tier that fails (full disk, bad file)
 * counts and logs it and answers as a miss. A block a tier returns has passed
 * its CRC32C check and is a reference the caller owns and releases.
 */
export interface BlockCache {
  /** Short name in stats and metrics: "ram", "disk", "tiered". */
  readonly name: string;
  get(id: BlockId): Promise<BlockBuffer | undefined>;
  /**
   * Offers the block (its crc32c set) to the tier, which may decline it
   * (admission). The tier takes its own reference or copy of what it keeps;
   * the caller's reference must stay valid until put resolves. Never rejects.
   * objectSize, where the caller knows it, lets a tier see an object become
   * whole.
   */
  put(id: BlockId, block: BlockBuffer, objectSize?: number): Promise<void>;
  /** Whether the tier holds the block: no read, and not counted as a request (warm-up skips what is cached). */
  contains(id: BlockId): boolean;
  /** Drops the block if held, pinned or not (`cachalot evict`). Never rejects. */
  remove(id: BlockId): Promise<void>;
  stats(): TierStats[];
}

/**
 * Blocks kept whatever the eviction policy says (`cachalot pin`): the disk
 * tier's, kept across restarts. A pin may come before its block: the block
 * is then admitted when it arrives, pushing out unpinned ones if need be.
 */
export interface PinnedBlocks {
  /** Pins the block (length bytes); fails with PinTooLarge, pinning nothing, when pins would pass the capacity. */
  pin(id: BlockId, length: number): Promise<void>;
  unpin(id: BlockId): Promise<void>;
  isPinned(id: BlockId): boolean;
  readonly pinnedBytes: number;
  /** The most that may be pinned: the tier's capacity. */
  readonly pinCapacityBytes: number;
}

/** One version of one object, whole. */
export interface ObjectVersion {
  bucket: string;
  key: string;
  etag: string;
  size: number;
}

/**
 * An object version's file on the cache disk, every byte of it there and
 * checked: FUSE passthrough hands it to the kernel, which reads it itself.
 * While held, no byte of it is rewritten or punched out: its blocks are out
 * of eviction's reach, and `evict` or a failed check deletes the whole file,
 * which stays readable through this descriptor until release().
 */
export interface ObjectFile {
  readonly fd: number;
  /** Once, when the kernel no longer reads through it. */
  release(): void;
}

/** Objects whose every block is on the cache disk, each as one file (the disk tier). */
export interface LocalObjects {
  /**
   * The object's file when every block of it is cached on disk and has
   * passed its CRC32C check (in this process's life: a block changed on disk
   * while the daemon was down never reaches a reader); undefined otherwise.
   */
  openObject(object: ObjectVersion): Promise<ObjectFile | undefined>;
  /**
   * An object this node just wrote, whole in the file at `path` with the
   * CRC32C of each block: the tier links the file in as the object's (the
   * caller's name for it stays the caller's), if it admits the blocks. The
   * file must not change after.
   */
  adoptObject(object: ObjectVersion, path: string, blockCrcs: number[]): Promise<void>;
  /** The object was copied to `to` (a rename): the bytes cached for it serve the copy too, when it is whole here. */
  copyObject(from: ObjectVersion, to: ObjectVersion): Promise<void>;
}

export interface TierStats {
  tier: string;
  usedBytes: number;
  capacityBytes: number;
  blocks: number;
  hits: number;
  misses: number;
  evictions: number;
  /** Bytes of pinned blocks (`cachalot pin`): never evicted. */
  pinnedBytes: number;
  /** Failed reads or writes of the tier, corrupt blocks included. */
  errors: number;
}

export function blockRange(request: BlockRequest): { start: number; end: number } {
  const start = request.index * request.blockSize;
  return { start, end: Math.min(request.objectSize, start + request.blockSize) };
}

export function blockKey(id: BlockId): string {
  return `${id.bucket}\0${id.key}\0${id.etag}\0${id.index}`;
}
