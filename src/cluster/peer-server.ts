import { status } from '@grpc/grpc-js';
import { createSecureServer, createServer, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { finished } from 'node:stream/promises';
import type { BlockBuffer } from '../block/block-buffer';
import type { BlockRequest, BlockSource } from '../block/types';
import { BadRequest, isCachalotError, oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import { compressIfItPays } from '../block/lz4-block';
import type { BlockOps } from '../block/block-ops';
import { crc32c } from '../block/crc32c';
import { AUTHORIZATION_HEADER, tokenRefusal } from '../rpc/grpc-auth';
import { failureHeaders, listenHttp2, respondOk } from '../rpc/grpc-http2';
import { describeTls } from '../rpc/grpc-tls';
import type { ClusterTls } from '../rpc/types';
import { ChunkEncoding, chunkPrefix } from './block-chunk-codec';
import { GET_BLOCK_PATH, decodeBlockRequest } from './peer-protocol';
import { BLOCK_OPS_PATH, decodeBlockOpsRequest, encodeBlockOpsReply } from './block-ops-protocol';

/** Bytes per streamed message: large enough to be cheap, far below gRPC's 4 MiB message limit. */
export const PEER_CHUNK_BYTES = 1024 * 1024;
/** A block request is a few names and numbers; anything longer is not one. */
const MAX_REQUEST_BYTES = 64 * 1024;
/** A BlockOps request is a batch of them (the warm-up sends a few to a few hundred). */
const MAX_OPS_REQUEST_BYTES = 8 * 1024 * 1024;
const GRACEFUL_STOP_MS = 2000;
/** Calls one asker may have open at once; more wait at the asker (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS). */
const MAX_CALLS_PER_ASKER = 64;
/**
 * What node:http2 lets one connection hold, in MB. Past it (10 by default),
 * node refuses every new call with ENHANCE_YOUR_CALM, counting the replies
 * queued to send, and the asker passes the owner over and reads from S3:
 * one reader's readahead window of blocks passes 10 MB at once. The replies
 * are views of cached blocks, so the bound costs no memory of its own; the
 * calls bound them, 64 blocks of up to 16 MiB (larger blocks are served,
 * fewer at once).
 */
const SESSION_MEMORY_MB = MAX_CALLS_PER_ASKER * 16;

export interface PeerServerOptions {
  /** HOST:PORT; port 0 takes any free port (see PeerServer.address). */
  listen: string;
  token: string;
  /** TLS with the node's certificate, and with a CA mutual TLS; plain TCP without. */
  tls?: ClusterTls;
  /** lz4 for askers that take it, block by block where it pays (default true). */
  lz4?: boolean;
  /** The node's read path: its tiers, then S3, one fetch for all askers at once. */
  source: BlockSource;
  /** Warm-up and cache operations (BlockOps); without: that call is UNIMPLEMENTED. */
  ops?: Pick<BlockOps, 'run'>;
  log: Logger;
  /** Counts blocks served and failed, for metrics. */
  onServed?: (outcome: 'ok' | 'error') => void;
}

export interface PeerServer {
  readonly address: string;
  stop(): Promise<void>;
}

/**
 * Serves the blocks of this node's cache to the other nodes: the gRPC
 * service of proto/cachalot/peer.proto, spoken on node:http2 directly so
 * that a block goes out as views of the cached buffer, never copied
 * (block-chunk-codec.ts says why). Any gRPC client can call it.
 */
export async function startPeerServer(options: PeerServerOptions): Promise<PeerServer> {
  const { tls } = options;
  // With a CA, every asker must show a certificate it signed (mutual TLS).
  const limits = { maxSessionMemory: SESSION_MEMORY_MB, settings: { maxConcurrentStreams: MAX_CALLS_PER_ASKER } };
  const server = tls
    ? createSecureServer({ ...limits, cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.ca !== undefined, rejectUnauthorized: tls.ca !== undefined })
    : createServer(limits);
  const sessions = new Set<Http2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    // A peer that goes away mid-call is the asker's problem: it reads from S3.
    session.on('error', () => {});
  });
  server.on('stream', (stream, headers) => void serveCall(stream, headers, options));
  const address = await listenHttp2(server, options.listen, 'peer service');
  options.log.info({ address, transport: describeTls(tls) }, 'peer service listening');
  return {
    address,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // GOAWAY: running calls finish, new ones go elsewhere; past the grace period they are cut.
      for (const session of sessions) session.close();
      const force = setTimeout(() => sessions.forEach((session) => session.destroy()), GRACEFUL_STOP_MS);
      await closed;
      clearTimeout(force);
    },
  };
}

async function serveCall(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, options: PeerServerOptions): Promise<void> {
  // The asker cancelling (its deadline, a read it no longer needs) resets the stream: nothing to report.
  stream.on('error', () => {});
  const path = headers[':path'];
  const serve = path === GET_BLOCK_PATH ? serveBlock : path === BLOCK_OPS_PATH && options.ops ? serveBlockOps : undefined;
  if (!serve) return refuse(stream, status.UNIMPLEMENTED, `no method ${String(path)}`);
  const refusal = tokenRefusal(headers[AUTHORIZATION_HEADER], options.token);
  if (refusal) {
    options.log.warn({ peer: stream.session?.socket?.remoteAddress, reason: refusal }, 'refused a peer call');
    return refuse(stream, status.UNAUTHENTICATED, `${refusal} (check --token-file)`);
  }
  await serve(stream, options);
}

async function serveBlock(stream: ServerHttp2Stream, options: PeerServerOptions): Promise<void> {
  let request: BlockRequest | undefined;
  let loaded: BlockBuffer | undefined;
  try {
    const { acceptLz4, ...wanted } = decodeBlockRequest(await readRequest(stream, MAX_REQUEST_BYTES));
    request = { ...wanted, fromPeer: true };
    loaded = await options.source.load(request);
    const lz4 = acceptLz4 && options.lz4 !== false ? await compressIfItPays(loaded.bytes) : undefined;
    if (stream.closed) return;
    await sendBlock(stream, loaded, lz4);
    options.onServed?.('ok');
  } catch (err) {
    options.onServed?.('error');
    options.log.warn({ key: request?.key, index: request?.index, err: oneLine(err) }, 'peer block request failed');
    if (!stream.headersSent && !stream.closed) refuse(stream, grpcStatusOf(err), oneLine(err));
    else stream.close();
  } finally {
    loaded?.release();
  }
}

/** One unary reply: the message, then an OK status in trailers. */
async function serveBlockOps(stream: ServerHttp2Stream, options: PeerServerOptions): Promise<void> {
  try {
    const reply = await options.ops!.run(decodeBlockOpsRequest(await readRequest(stream, MAX_OPS_REQUEST_BYTES)));
    if (stream.closed) return;
    respondOk(stream);
    stream.end(encodeBlockOpsReply(reply));
  } catch (err) {
    options.log.warn({ err: oneLine(err) }, 'peer block operations failed');
    if (!stream.headersSent && !stream.closed) refuse(stream, grpcStatusOf(err), oneLine(err));
  }
}

/** The call's one request message, whole. */
async function readRequest(stream: ServerHttp2Stream, maxBytes: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  let length = 0;
  for await (const piece of stream as AsyncIterable<Buffer>) {
    length += piece.length;
    if (length > maxBytes) throw new BadRequest(`a request over ${maxBytes} bytes`);
    pieces.push(piece);
  }
  return Buffer.concat(pieces, length);
}

/**
 * The block (or its lz4 form) in messages of PEER_CHUNK_BYTES, each a small
 * prefix and a view of the bytes; the block must stay unreleased until the
 * stream is done with every view, which `finished` waits for.
 */
async function sendBlock(stream: ServerHttp2Stream, block: BlockBuffer, lz4: Buffer | undefined): Promise<void> {
  const crc = (block.crc32c ??= crc32c(block.bytes));
  const wire = lz4 ?? block.bytes;
  const header = { length: block.bytes.length, crc32c: crc, encoding: lz4 ? ChunkEncoding.Lz4 : ChunkEncoding.Raw, wireLength: wire.length };
  respondOk(stream);
  for (let offset = 0; offset === 0 || offset < wire.length; offset += PEER_CHUNK_BYTES) {
    if (stream.closed) return;
    const data = wire.subarray(offset, offset + PEER_CHUNK_BYTES);
    stream.write(chunkPrefix(data.length, offset === 0 ? header : undefined));
    if (!stream.write(data)) await new Promise((resolve) => stream.once('drain', resolve).once('close', resolve));
  }
  stream.end();
  await finished(stream).catch(() => undefined);
}

function refuse(stream: ServerHttp2Stream, code: status, details: string): void {
  stream.respond(failureHeaders(code, details), { endStream: true });
}

function grpcStatusOf(err: unknown): status {
  if (err instanceof BadRequest) return status.INVALID_ARGUMENT;
  if (isCachalotError(err, 'NotFound')) return status.NOT_FOUND;
  if (isCachalotError(err, 'PreconditionFailed')) return status.FAILED_PRECONDITION;
  return status.UNAVAILABLE;
}
