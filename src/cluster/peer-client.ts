import { status } from '@grpc/grpc-js';
import { constants } from 'node:http2';
import type { BlockBuffer, BufferPool } from '../block/block-buffer';
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

export interface PeerClientOptions {
  token: string;
  /** TLS to the peers (their certificates checked against the CA; ours shown for mutual TLS); plain TCP without. */
  tls?: ClusterTls;
  pool: BufferPool;
  /** Bound of one block's transfer; past it the peer counts as failed and the read goes on without it. */
  timeoutMs: number;
  /** Take blocks lz4-compressed where the owner finds that it pays (default true). */
  acceptLz4?: boolean;
  /** Counts each block received whole and checked: its encoding on the wire and the bytes that came. */
  onReceived?: (encoding: 'raw' | 'lz4', wireBytes: number) => void;
}

/**
 * Asks other nodes for blocks (the gRPC service of proto/cachalot/peer.proto,
 * on node:http2: the bytes go from the wire straight into a pooled block
 * buffer), one HTTP/2 connection per peer address (PeerSessions). A block is returned only
 * when it is complete, as long as asked, and its CRC32C matches: a peer that
 * lies, stalls or dies fails the fetch (PeerFailed), never the read.
 */
export class PeerClient {
  private readonly sessions: PeerSessions;

  constructor(private readonly options: PeerClientOptions) {
    this.sessions = new PeerSessions(options.tls, RECEIVE_WINDOW);
  }

  fetch(address: string, request: BlockRequest): Promise<BlockBuffer> {
    const { start, end } = blockRange(request);
    const { timeoutMs } = this.options;
    const session = this.sessions.get(address);
    const stream = session.request(callHeaders(GET_BLOCK_PATH, timeoutMs, { [AUTHORIZATION_HEADER]: bearerValue(this.options.token) }));
    stream.end(encodeBlockRequest({ ...request, acceptLz4: this.options.acceptLz4 !== false }));
    return new Promise<BlockBuffer>((resolve, reject) => {
      const block = this.options.pool.take(end - start);
      const receiver = new BlockReceiver(block);
      let callStatus: CallStatus | undefined;
      let settled = false;
      const timer = setTimeout(() => fail('did not send the block in time'), timeoutMs);
      /** What the peer did wrong, or the error of the failed call that says it in one line. */
      const fail = (reason: string, error?: CachalotError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stream.close(constants.NGHTTP2_CANCEL);
        block.release();
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
          this.options.onReceived?.(receiver.encoding === ChunkEncoding.Lz4 ? 'lz4' : 'raw', receiver.wireBytes);
          resolve(block);
        });
      });
    });
  }

  close(): void {
    this.sessions.close();
  }
}
