import { status } from '@grpc/grpc-js';
import { constants } from 'node:http2';
import { blockRange, type BlockRequest } from '../block/types';
import { CachalotError } from '../errors';
import { ChunkEncoding } from './block-chunk-codec';
import { BlockReceiver } from './block-receiver';
import { AUTHORIZATION_HEADER, bearerValue } from './grpc-auth';
import { fromConnectionError, fromGrpcError } from './grpc-errors';
import { callHeaders, statusOf, type CallStatus } from './grpc-http2';
import type { ClusterTls } from './grpc-tls';
import { GET_BLOCK_PATH, encodeBlockRequest } from './peer-protocol';
import { PeerSessions } from './peer-sessions';

/**
 * HTTP/2's default 64 KiB receive window makes the owner wait for a window
 * update every 64 KiB: a few blocks' worth, per call and per connection, lets it stream.
 */
const RECEIVE_WINDOW = 32 * 1024 * 1024;

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

/**
 * Asks other nodes for blocks (the gRPC service of proto/cachalot/peer.proto,
 * on node:http2: the bytes go from the wire straight into the buffer given),
 * one HTTP/2 connection per peer address (PeerSessions). A fetch succeeds
 * only when the block is complete, as long as asked, and its CRC32C
 * matches: a peer that lies, stalls or dies fails it (PeerFailed), never the
 * read.
 */
export class PeerFetcher {
  private readonly sessions: PeerSessions;

  constructor(private readonly options: PeerFetcherOptions) {
    this.sessions = new PeerSessions(options.tls, RECEIVE_WINDOW);
  }

  /** Fills `into` (exactly the block's length) with the block; what `into` held is undefined after a failure. */
  fetch(address: string, request: BlockRequest, into: Buffer): Promise<Received> {
    const { start, end } = blockRange(request);
    if (into.length !== end - start) throw new RangeError(`a buffer of ${into.length} bytes for a block of ${end - start}`);
    const { timeoutMs } = this.options;
    const session = this.sessions.get(address);
    const stream = session.request(callHeaders(GET_BLOCK_PATH, timeoutMs, { [AUTHORIZATION_HEADER]: bearerValue(this.options.token) }));
    stream.end(encodeBlockRequest({ ...request, acceptLz4: this.options.acceptLz4 !== false }));
    return new Promise<Received>((resolve, reject) => {
      const receiver = new BlockReceiver(into);
      let callStatus: CallStatus | undefined;
      let settled = false;
      const timer = setTimeout(() => fail('did not send the block in time'), timeoutMs);
      /** What the peer did wrong, or the error of the failed call that says it in one line. */
      const fail = (reason: string, error?: CachalotError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stream.close(constants.NGHTTP2_CANCEL);
        reject(new CachalotError('PeerFailed', error?.message ?? `peer ${address} ${reason}`, { cause: error }));
      };
      let responded = false;
      stream.on('response', (headers) => {
        responded = true;
        callStatus ??= statusOf(headers);
      });
      stream.on('trailers', (trailers) => (callStatus ??= statusOf(trailers)));
      stream.on('data', (piece: Buffer) => {
        if (settled) return;
        try {
          receiver.decoder.write(piece);
        } catch (err) {
          fail((err as Error).message);
        }
      });
      stream.on('error', (err) => fail('', fromConnectionError(err, `peer ${address}`)));
      stream.on('close', () => {
        if (settled) return;
        if (!callStatus) {
          const cause = this.sessions.errorOf(session) ?? (responded ? undefined : Object.assign(new Error('closed'), { code: 'ECONNRESET' }));
          return fail('ended the call without a status', cause && fromConnectionError(cause, `peer ${address}`));
        }
        if (callStatus.code !== status.OK) return fail('', fromGrpcError(callStatus, `peer ${address}`));
        // The call is over: nothing but finish() may now settle it (a lz4 block decompresses into the buffer meanwhile).
        clearTimeout(timer);
        void receiver.finish().then((wrong) => {
          if (wrong !== undefined) return fail(wrong);
          settled = true;
          resolve({ crc32c: receiver.crc32c!, encoding: receiver.encoding === ChunkEncoding.Lz4 ? 'lz4' : 'raw', wireBytes: receiver.wireBytes });
        });
      });
    });
  }

  close(): void {
    this.sessions.close();
  }
}
