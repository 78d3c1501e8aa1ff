import type { BlockRequest } from '../block/types';
import type { ClusterTls } from '../rpc/types';

/**
 * HTTP/2's default 64 KiB receive window makes the owner wait for a window
 * update every 64 KiB: a few blocks' worth, per call and per connection, lets it stream.
 */
export const RECEIVE_WINDOW = 32 * 1024 * 1024;

export interface PeerFetcherOptions {
  token: string;
  /** TLS to the peers (their certificates checked against the CA; ours shown for mutual TLS); plain TCP without. */
  tls?: ClusterTls;
  /** Bound of one block's transfer; past it the peer counts as failed and the read goes on without it. */
  timeoutMs: number;
  /** Take blocks lz4-compressed where the owner finds that it pays (default true). */
  acceptLz4?: boolean;
}

/** A block received whole and checked. */
export interface Received {
  crc32c: number;
  /** Its encoding on the wire, and the bytes that came. */
  encoding: 'raw' | 'lz4';
  wireBytes: number;
}

/** Fills a block buffer with a block that another node holds (native/peer's receive path, native-peer-fetcher.ts). */
export interface BlockFetcher {
  /** Fills `into` (exactly the block's length) with the block; what `into` held is undefined after a failure. */
  fetch(address: string, request: BlockRequest, into: Buffer): Promise<Received>;
  /** The fetches still running fail; none writes its buffer after this. */
  close(): void;
}
