import { crc32c } from '@node-rs/crc32';
import type { ChannelCredentials, Client, ClientReadableStream } from '@grpc/grpc-js';
import type { BlockBuffer, BufferPool } from '../block/block-buffer';
import { blockRange, type BlockRequest } from '../block/types';
import { CachalotError } from '../errors';
import { bearerTokenInterceptor } from './grpc-auth';
import { fromGrpcError } from './grpc-errors';
import { grpcService } from './grpc-service';
import { channelCredentials, type ClusterTls } from './grpc-tls';

const FLOW_CONTROL_WINDOW = 32 * 1024 * 1024;

interface WireChunk {
  length: number;
  crc32c: number;
  data: Buffer;
}

export interface PeerClientOptions {
  token: string;
  /** TLS to the peers (their certificates checked against the CA; ours shown for mutual TLS); plain TCP without. */
  tls?: ClusterTls;
  pool: BufferPool;
  /** Bound of one block's transfer; past it the peer counts as failed and the read goes on without it. */
  timeoutMs: number;
}

/**
 * Asks other nodes for blocks (proto/cachalot/peer.proto), one gRPC channel
 * per peer address. A block is returned only when it is complete, as long as
 * asked, and its CRC32C matches: a peer that lies, stalls or dies fails the
 * fetch (PeerFailed), never the read.
 */
export class PeerClient {
  private readonly clients = new Map<string, Client>();
  private readonly credentials: ChannelCredentials;

  constructor(private readonly options: PeerClientOptions) {
    this.credentials = channelCredentials(options.tls);
  }

  fetch(address: string, request: BlockRequest): Promise<BlockBuffer> {
    const { start, end } = blockRange(request);
    const expected = end - start;
    const { bucket, key, etag, index, objectSize, blockSize } = request;
    const call = (this.client(address) as unknown as { GetBlock: (r: object, o: object) => ClientReadableStream<WireChunk> }).GetBlock(
      { bucket, key, etag, index, objectSize, blockSize },
      { deadline: Date.now() + this.options.timeoutMs },
    );
    return new Promise<BlockBuffer>((resolve, reject) => {
      const block = this.options.pool.take(expected);
      let received = 0;
      let crc: number | undefined;
      let settled = false;
      /** What the peer did wrong, or the failed call (cause) whose one-line message says it. */
      const fail = (reason: string, cause?: unknown) => {
        if (settled) return;
        settled = true;
        call.cancel();
        block.release();
        const message = cause ? fromGrpcError(cause, `peer ${address}`).message : `peer ${address} ${reason}`;
        reject(new CachalotError('PeerFailed', message, { cause }));
      };
      call.on('data', (chunk: WireChunk) => {
        if (settled) return;
        if (crc === undefined) {
          if (chunk.length !== expected) return fail(`sent a block of ${chunk.length} bytes for one of ${expected}`);
          crc = chunk.crc32c;
        }
        if (received + chunk.data.length > expected) return fail(`sent more than the block's ${expected} bytes`);
        received += chunk.data.copy(block.bytes, received);
      });
      call.on('error', (err) => fail('', err));
      call.on('end', () => {
        if (settled) return;
        if (received !== expected) return fail(`ended the block after ${received} of ${expected} bytes`);
        if (crc32c(block.bytes) !== crc) return fail('sent a block whose CRC32C does not match');
        settled = true;
        block.crc32c = crc;
        resolve(block);
      });
    });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(address: string): Client {
    let client = this.clients.get(address);
    if (!client) {
      const Peer = grpcService('cachalot/peer.proto', 'cachalot.peer.v1.Peer');
      client = new Peer(address, this.credentials, {
        interceptors: [bearerTokenInterceptor(this.options.token)],
        // HTTP/2's default 64 KiB receive window makes the owner wait for a
        // window update every 64 KiB: a few blocks' worth lets it stream.
        'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
      });
      this.clients.set(address, client);
    }
    return client;
  }
}
