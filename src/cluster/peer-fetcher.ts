import { blockRange, type BlockRequest } from '../block/types';
import { CachalotError } from '../errors';
import { ChunkEncoding } from './block-chunk-codec';
import { BlockReceiver } from './block-receiver';
import { callPeer } from './grpc-call';
import type { ClusterTls } from './grpc-tls';
import { GET_BLOCK_PATH, encodeBlockRequest } from './peer-protocol';
import { PeerSessions } from './peer-sessions';

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

/** Fills a block buffer with a block that another node holds (this file's PeerFetcher, or native/peer's). */
export interface BlockFetcher {
  /** Fills `into` (exactly the block's length) with the block; what `into` held is undefined after a failure. */
  fetch(address: string, request: BlockRequest, into: Buffer): Promise<Received>;
  /** The fetches still running fail; none writes its buffer after this. */
  close(): void;
}

/**
 * Asks other nodes for blocks (the gRPC service of proto/cachalot/peer.proto,
 * on node:http2: the bytes go from the wire straight into the buffer given),
 * one HTTP/2 connection per peer address (PeerSessions). A fetch succeeds
 * only when the block is complete, as long as asked, and its CRC32C
 * matches: a peer that lies, stalls or dies fails it (PeerFailed), never the
 * read.
 */
export class PeerFetcher implements BlockFetcher {
  private readonly sessions: PeerSessions;

  constructor(private readonly options: PeerFetcherOptions) {
    this.sessions = new PeerSessions(options.tls, RECEIVE_WINDOW);
  }

  async fetch(address: string, request: BlockRequest, into: Buffer): Promise<Received> {
    const { start, end } = blockRange(request);
    if (into.length !== end - start) throw new RangeError(`a buffer of ${into.length} bytes for a block of ${end - start}`);
    const { token, timeoutMs, acceptLz4 } = this.options;
    const service = `peer ${address}`;
    const receiver = new BlockReceiver(into);
    try {
      await callPeer(this.sessions, address, service, {
        path: GET_BLOCK_PATH,
        body: encodeBlockRequest({ ...request, acceptLz4: acceptLz4 !== false }),
        token,
        timeoutMs,
        timeoutReason: 'did not send the block in time',
        onData: (piece) => receiver.decoder.write(piece),
      });
    } catch (err) {
      throw new CachalotError('PeerFailed', (err as Error).message, { cause: err });
    }
    // The call is over: nothing but finish() writes `into` now (a lz4 block decompresses into it).
    const wrong = await receiver.finish();
    if (wrong !== undefined) throw new CachalotError('PeerFailed', `${service} ${wrong}`);
    return { crc32c: receiver.crc32c!, encoding: receiver.encoding === ChunkEncoding.Lz4 ? 'lz4' : 'raw', wireBytes: receiver.wireBytes };
  }

  close(): void {
    this.sessions.close();
  }
}
