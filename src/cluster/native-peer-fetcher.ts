import { rootCertificates } from 'node:tls';
import { blockRange, type BlockRequest } from '../block/types';
import { CachalotError } from '../errors';
import { nativeAddon } from '../native-addon';
import { AUTHORIZATION_HEADER, bearerValue } from '../rpc/grpc-auth';
import { fromConnectionError, fromGrpcError } from '../rpc/grpc-errors';
import type { ClusterTls } from '../rpc/types';
import { callHeaders, statusOf } from '../rpc/grpc-http2';
import { RECEIVE_WINDOW, type BlockFetcher, type PeerFetcherOptions, type Received } from './peer-fetcher';
import { GET_BLOCK_PATH, encodeBlockRequest } from './peer-protocol';

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

/**
 * The peer client's receive path in native/peer: GetBlock calls, plain or
 * TLS (node's OpenSSL, the checks node's https client makes), made by
 * nghttp2 on a thread of the addon's own, which writes each block from the
 * socket's read buffer straight into `into` and checks it (length, CRC32C,
 * lz4) before it reports, once per block. node:http2 hands JavaScript every
 * 16 KiB DATA frame as an event in a fresh buffer, and that, with the
 * garbage it makes, was most of the asker's CPU (docs/BENCHMARKS.md, "Peer
 * reads: a native receive path"). Failures are worded as grpc-call.ts words
 * those of the other peer calls.
 */
export class NativePeerFetcher implements BlockFetcher {
  private handle?: object;
  private readonly running = new Map<number, { service: string; resolve: (received: Received) => void; reject: (err: Error) => void; into: Buffer }>();
  private nextId = 0;

  constructor(private readonly options: PeerFetcherOptions) {}

  fetch(address: string, request: BlockRequest, into: Buffer): Promise<Received> {
    const { start, end } = blockRange(request);
    if (into.length !== end - start) throw new RangeError(`a buffer of ${into.length} bytes for a block of ${end - start}`);
    const { token, timeoutMs, acceptLz4 } = this.options;
    const headers = { ':scheme': this.options.tls ? 'https' : 'http', ':authority': address, ...callHeaders(GET_BLOCK_PATH, timeoutMs, { [AUTHORIZATION_HEADER]: bearerValue(token) }) };
    const body = encodeBlockRequest({ ...request, acceptLz4: acceptLz4 !== false });
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // `into` is held here until the addon reports the call: its thread writes it until then.
      this.running.set(id, { service: `peer ${address}`, resolve, reject, into });
      addon().fetch(this.client(), id, address, Object.entries(headers).flat().map(String), body, into, timeoutMs);
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
      call.resolve({ crc32c: outcome.crc32c >>> 0, encoding: outcome.encoding === 1 ? 'lz4' : 'raw', wireBytes: outcome.wireBytes });
    } else {
      call.reject(new CachalotError('PeerFailed', failure(outcome, call.service)));
    }
  }
}

/** Without --tls-ca, peers are checked against node's own root CAs, as node:http2 checks them. */
function withRoots(tls: ClusterTls | undefined): ClusterTls | undefined {
  return tls && { ...tls, ca: tls.ca ?? Buffer.from(rootCertificates.join('\n')) };
}

/** What went wrong, in the words grpc-call.ts uses for the other peer calls. */
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
