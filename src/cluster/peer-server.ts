import { crc32c } from '@node-rs/crc32';
import { Server, status, type ServerWritableStream } from '@grpc/grpc-js';
import { finished } from 'node:stream/promises';
import type { BlockBuffer } from '../block/block-buffer';
import type { BlockRequest, BlockSource } from '../block/types';
import { isCachalotError, oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import { requireBearerToken } from './grpc-auth';
import { bindServer, grpcService } from './grpc-service';
import { describeTls, type ClusterTls } from './grpc-tls';

/** Bytes per streamed message: large enough to be cheap, far below gRPC's 4 MiB message limit. */
export const PEER_CHUNK_BYTES = 1024 * 1024;

export interface PeerServerOptions {
  /** HOST:PORT; port 0 takes any free port (see PeerServer.address). */
  listen: string;
  token: string;
  /** TLS with the node's certificate, and with a CA mutual TLS; plain TCP without. */
  tls?: ClusterTls;
  /** The node's read path: its tiers, then S3, one fetch for all askers at once. */
  source: BlockSource;
  log: Logger;
  /** Counts blocks served and failed, for metrics. */
  onServed?: (outcome: 'ok' | 'error') => void;
}

export interface PeerServer {
  readonly address: string;
  stop(): Promise<void>;
}

interface WireRequest {
  bucket: string;
  key: string;
  etag: string;
  index: number;
  objectSize: number;
  blockSize: number;
}

/** Serves the blocks of this node's cache to the other nodes (proto/cachalot/peer.proto). */
export async function startPeerServer(options: PeerServerOptions): Promise<PeerServer> {
  const server = new Server({
    interceptors: [requireBearerToken(options.token, (peer, reason) => options.log.warn({ peer, reason }, 'refused a peer call'))],
  });
  server.addService(grpcService('cachalot/peer.proto', 'cachalot.peer.v1.Peer').service, {
    GetBlock: (call: ServerWritableStream<WireRequest, unknown>) => void serveBlock(call, options),
  });
  const address = await bindServer(server, options.listen, 'peer service', options.tls);
  options.log.info({ address, transport: describeTls(options.tls) }, 'peer service listening');
  return {
    address,
    stop: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

async function serveBlock(call: ServerWritableStream<WireRequest, unknown>, options: PeerServerOptions): Promise<void> {
  const { request } = call;
  const block: BlockRequest = { ...request, fromPeer: true };
  let loaded: BlockBuffer | undefined;
  try {
    loaded = await options.source.load(block);
    const { bytes } = loaded;
    for (let offset = 0; offset === 0 || offset < bytes.length; offset += PEER_CHUNK_BYTES) {
      if (call.cancelled) return;
      const chunk = { length: bytes.length, crc32c: (loaded.crc32c ??= crc32c(bytes)), data: bytes.subarray(offset, offset + PEER_CHUNK_BYTES) };
      if (!call.write(chunk)) await new Promise((resolve) => call.once('drain', resolve));
    }
    call.end();
    // Messages wait in the stream, as views of the block, until grpc-js
    // encodes them one by one: the block is released (and its buffer reused)
    // only once the stream is done with all of them.
    await finished(call).catch(() => undefined);
    options.onServed?.('ok');
  } catch (err) {
    options.onServed?.('error');
    options.log.warn({ key: request.key, index: request.index, err: oneLine(err) }, 'peer block request failed');
    call.destroy(Object.assign(new Error(oneLine(err)), { code: grpcStatusOf(err) }));
  } finally {
    loaded?.release();
  }
}

function grpcStatusOf(err: unknown): status {
  if (isCachalotError(err, 'NotFound')) return status.NOT_FOUND;
  if (isCachalotError(err, 'PreconditionFailed')) return status.FAILED_PRECONDITION;
  return status.UNAVAILABLE;
}
