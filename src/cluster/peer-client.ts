import { rootCertificates } from 'node:tls';
import type { BlockBuffer, BufferPool } from '../block/block-buffer';
import { blockRange, type BlockRequest } from '../block/types';
import { CachalotError } from '../errors';
import { nativeAddon } from '../native-addon';
import { AUTHORIZATION_HEADER, bearerValue } from '../rpc/grpc-auth';
import { fromConnectionError, fromGrpcError } from '../rpc/grpc-errors';
import { callHeaders, statusOf } from '../rpc/grpc-http2';
import type { ClusterTls } from '../rpc/types';
import { GET_BLOCK_PATH, encodeBlockRequest } from './peer-protocol';

/**
 * HTTP/2's default 64 KiB receive window makes the owner wait for a window
 * update every 64 KiB: a few blocks' worth, per call and per connection, lets it stream.
 */
const RECEIVE_WINDOW = 32 * 1024 * 1024;

export interface PeerClientOptions {
  token: string;
  /** TLS to the peers (their certificates checked against the CA; ours shown for mutual TLS); plain TCP without. */
  tls?: ClusterTls;
  /** Bound of one block's transfer; past it the peer counts as failed and the read goes on without it. */
  timeoutMs: number;
  /** Take blocks lz4-compressed where the owner finds that it pays (default true). */
  acceptLz4?: boolean;
  /** Where received blocks go. */
  pool: BufferPool;
  /** Counts each block received whole and checked: its encoding on the wire and the bytes that came. */
  onReceived?: (encoding: 'raw' | 'lz4', wireBytes: number) => void;
}

/** How a call ended (native/peer/src/h2-client.h, CallEnd). */
const enum CallEnd {
  Ok = 0,
  Connection = 1,
  Status = 2,
  BadBlock = 3,
  Timeout = 4,
  Closing = 5,
  NoStatus = 6,
}

interface CallOutcome {
  id: number;
  end: CallEnd;
  code: string;
  message: string;
  grpcStatus: string;
  grpcMessage: string;
  crc32c: number;
  /** ChunkEncoding: 0 raw, 1 lz4. */
  encoding: number;
  wireBytes: number;
}

interface PeerAddon {
  /** tls: every peer is called over TLS with these PEM files (rpc/types.ts), a CA among them; none: plain TCP. */
  open(onDone: (outcome: CallOutcome) => void, receiveWindow: number, tls?: ClusterTls): object;
  fetch(handle: object, id: number, address: string, headers: string[], body: Buffer, target: Buffer, timeoutMs: number): void;
  close(handle: object): void;
}

interface Running {
  service: string;
  block: BlockBuffer;
  resolve: (block: BlockBuffer) => void;
  reject: (err: Error) => void;
}

/**
 * The read path's client of the peer service: GetBlock calls through
 * native/peer, plain or TLS (node's OpenSSL, the checks node's https client
 * makes), made by nghttp2 on a thread of the addon's own, which writes each
 * block from the socket's read buffer straight into a buffer of the pool
 * and checks it (length, CRC32C, lz4) before it reports, once per block.
 * The trade-off: a native addon to build and keep, against node:http2,
 * which hands JavaScript every 16 KiB DATA frame as an event in a fresh
 * buffer and with that garbage cost the asker twice the CPU per block
 * (native/README.md). Failures are worded as rpc/grpc-call.ts words those
 * of the other peer calls.
 */
export class PeerClient {
  private handle?: object;
  private readonly running = new Map<number, Running>();
  private nextId = 0;

  constructor(private readonly options: PeerClientOptions) {}

  /** The block from the peer at address, received whole and checked; rejects when the peer fails. */
  async fetch(address: string, request: BlockRequest): Promise<BlockBuffer> {
    const { start, end } = blockRange(request);
    const { token, timeoutMs, acceptLz4, pool } = this.options;
    const headers = { ':scheme': this.options.tls ? 'https' : 'http', ':authority': address, ...callHeaders(GET_BLOCK_PATH, timeoutMs, { [AUTHORIZATION_HEADER]: bearerValue(token) }) };
    const body = encodeBlockRequest({ ...request, acceptLz4: acceptLz4 !== false });
    const id = this.nextId++;
    const block = pool.take(end - start);
    return new Promise((resolve, reject) => {
      // The block is held here until the addon reports the call: its thread writes it until then.
      this.running.set(id, { service: `peer ${address}`, block, resolve, reject });
      try {
        addon().fetch(this.client(), id, address, Object.entries(headers).flat().map(String), body, block.bytes, timeoutMs);
      } catch (err) {
        // Not sent (the addon refused its arguments): nothing writes the block.
        this.running.delete(id);
        block.release();
        reject(err);
      }
    });
  }

  /** Ends the addon's thread: the fetches still running fail, and none of their buffers is written after this returns. */
  close(): void {
    if (this.handle) addon().close(this.handle);
    this.handle = undefined;
  }

  private client(): object {
    return (this.handle ??= addon().open((outcome) => this.done(outcome), RECEIVE_WINDOW, withRoots(this.options.tls)));
  }

  private done(outcome: CallOutcome): void {
    const call = this.running.get(outcome.id);
    if (!call) return;
    this.running.delete(outcome.id);
    if (outcome.end === CallEnd.Ok) {
      const encoding = outcome.encoding === 1 ? 'lz4' : 'raw';
      call.block.crc32c = outcome.crc32c >>> 0;
      this.options.onReceived?.(encoding, outcome.wireBytes);
      call.resolve(call.block);
    } else {
      call.block.release();
      call.reject(new CachalotError('PeerFailed', failure(outcome, call.service)));
    }
  }
}

/** Without --tls-ca, peers are checked against node's own root CAs, as node:http2 checks them. */
function withRoots(tls: ClusterTls | undefined): ClusterTls | undefined {
  return tls && { ...tls, ca: tls.ca ?? Buffer.from(rootCertificates.join('\n')) };
}

/** What went wrong, in the words rpc/grpc-call.ts uses for the other peer calls. */
function failure(outcome: CallOutcome, service: string): string {
  switch (outcome.end) {
    case CallEnd.Connection:
      return fromConnectionError(Object.assign(new Error(outcome.message), { code: outcome.code }), service).message;
    case CallEnd.Status:
      return fromGrpcError(statusOf({ 'grpc-status': outcome.grpcStatus, 'grpc-message': outcome.grpcMessage }), service).message;
    case CallEnd.BadBlock:
      return `${service} ${outcome.message}`;
    case CallEnd.Timeout:
      return `${service} did not send the block in time`;
    case CallEnd.NoStatus:
      return `${service} ended the call without a status`;
    default:
      return 'the peer client stopped: the mount is closing';
  }
}

const addon = nativeAddon<PeerAddon>('peer');
