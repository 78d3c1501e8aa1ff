// The peer block service over real gRPC on 127.0.0.1: a good peer, one that
// lies about the bytes, one without the cluster secret, one that stalls, an
// address where nobody listens, and stock grpc-js on either side. Every
// server is stopped in after().
import assert from 'node:assert/strict';
import { crc32c } from '@node-rs/crc32';
import { credentials, Server, type ServerWritableStream } from '@grpc/grpc-js';
import { createServer } from 'node:http2';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { compressSync } from 'lz4-napi';
import { BlockBuffer, BufferPool } from '../../src/block/block-buffer';
import type { BlockRequest, BlockSource } from '../../src/block/types';
import { ChunkEncoding, chunkPrefix, frameMessage } from '../../src/cluster/block-chunk-codec';
import { bearerTokenInterceptor, requireBearerToken } from '../../src/rpc/grpc-auth';
import { listenHttp2, respondOk } from '../../src/rpc/grpc-http2';
import { bindServer, grpcService } from '../../src/rpc/grpc-service';
import { PeerClient } from '../../src/cluster/peer-client';
import { startPeerServer, type PeerServer } from '../../src/cluster/peer-server';
import { isCachalotError } from '../../src/errors';
import { silentLogger } from '../../src/obs/logger';
import { freePort, patternBytes } from '../support/e2e-helpers';

const TOKEN = 'peer-test-secret';
const BLOCK = 3 * 1024 * 1024 + 17; // more than one chunk, not a whole number of them
/** Incompressible: sent raw. */
const bytes = patternBytes(BLOCK, 7);
/** A block lz4 shrinks: sent compressed to askers that take it. */
const compressible = Buffer.from(Array.from({ length: BLOCK }, (_, i) => (i * 31 + 7) & 0xff));
const request: BlockRequest = { bucket: 'b', key: 'train/x', etag: '"e"', index: 0, objectSize: BLOCK, blockSize: 4 * 1024 * 1024 };
const servers: PeerServer[] = [];
const pool = new BufferPool({ size: 4 * 1024 * 1024, poison: true });

after(async () => {
  for (const server of servers) await server.stop();
});

async function serve(source: BlockSource, token = TOKEN): Promise<string> {
  const server = await startPeerServer({ listen: '127.0.0.1:0', token, source, log: silentLogger });
  servers.push(server);
  return server.address;
}

// Pooled and poisoned on release, as in the daemon: a server that let the
// block go before gRPC had encoded every chunk would send 0xa5 bytes.
const serverPool = new BufferPool({ size: 4 * 1024 * 1024, poison: true });
const serving = (content: Buffer): BlockSource => ({
  load: async () => {
    const block = serverPool.take(content.length);
    content.copy(block.bytes);
    block.crc32c = crc32c(content);
    return block;
  },
});
const honest = serving(bytes);

async function assertPeerFailed(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isCachalotError(err, 'PeerFailed'), `PeerFailed, not ${String(err)}`);
    assert.match((err as Error).message, pattern);
    assert.ok(!(err as Error).message.includes('\n'), 'one line');
    return true;
  });
}

describe("the peer client (native/peer's receive path)", () => {
  const received: Array<[string, number]> = [];
  const client = (timeoutMs = 5000, token = TOKEN, acceptLz4 = true) =>
    new PeerClient({ token, pool, timeoutMs, acceptLz4, onReceived: (encoding, wireBytes) => received.push([encoding, wireBytes]) });

  test('a block streams in chunks and arrives whole, with its CRC32C, also several at once; the request is marked as from a peer', async () => {
    let seen: BlockRequest | undefined;
    const address = await serve({ load: async (r) => ((seen = r), honest.load(r)) });
    const peers = client();
    const block = await peers.fetch(address, request);
    assert.ok(block.bytes.equals(bytes));
    assert.equal(block.crc32c, crc32c(bytes));
    assert.equal(seen?.fromPeer, true, 'the owner must not forward it again');
    block.release();
    const many = await Promise.all(Array.from({ length: 6 }, () => peers.fetch(address, request)));
    for (const b of many) {
      assert.ok(b.bytes.equals(bytes));
      b.release();
    }
    peers.close();
  });

  test('calls keep being taken while earlier replies wait on a slow link (node:http2 refuses new ones past 10 MB queued by default)', async (t) => {
    const address = await serve(honest);
    // A link that carries the asker's calls at once but holds the owner's replies until told.
    const held: net.Socket[] = [];
    const link = net.createServer((asker) => {
      const owner = net.connect(Number(address.split(':')[1]), '127.0.0.1');
      asker.pipe(owner);
      owner.pipe(asker);
      owner.pause();
      held.push(owner);
      for (const socket of [asker, owner]) socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => link.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of held) socket.destroy();
      link.close();
    });
    const peers = client(10_000);
    t.after(() => peers.close());
    const via = `127.0.0.1:${(link.address() as net.AddressInfo).port}`;
    const call = (i: number) =>
      peers.fetch(via, { ...request, key: `train/x${i}` }).then(
        (block) => (block.release(), 'answered'),
        (err: Error) => err.message,
      );
    const first = Array.from({ length: 48 }, (_, i) => call(i));
    // The owner has queued the first replies behind the held link; then more calls come.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const later = Array.from({ length: 8 }, (_, i) => call(48 + i));
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const socket of held) socket.resume();
    assert.deepEqual(await Promise.all([...first, ...later]), Array(56).fill('answered'));
  });

  test('a peer whose bytes fail the checksum is refused', async () => {
    const lying: BlockSource = {
      load: async () => {
        const corrupt = Buffer.from(bytes);
        corrupt[12345] ^= 1;
        return Object.assign(BlockBuffer.wrap(corrupt), { crc32c: crc32c(bytes) });
      },
    };
    const peers = client();
    await assertPeerFailed(peers.fetch(await serve(lying), request), /CRC32C/);
    peers.close();
  });

  test('a peer that sends a block of the wrong length is refused', async () => {
    const short: BlockSource = { load: async () => Object.assign(BlockBuffer.wrap(bytes.subarray(1)), { crc32c: crc32c(bytes.subarray(1)) }) };
    const peers = client();
    await assertPeerFailed(peers.fetch(await serve(short), request), /bytes/);
    peers.close();
  });

  test('without the cluster secret the peer refuses the call', async () => {
    const peers = client(5000, 'wrong-secret');
    await assertPeerFailed(peers.fetch(await serve(honest), request), /refused/);
    peers.close();
  });

  test('closing the client fails the fetches it has running, at once', async () => {
    const peers = client(60_000);
    const fetching = peers.fetch(await serve({ load: () => new Promise(() => {}) }), request);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    peers.close();
    await assertPeerFailed(fetching, /closing/);
    assert.ok(Date.now() - started < 3000, `failed after ${Date.now() - started} ms`);
  });

  test('a peer that stalls fails within the bound; an address where nobody listens fails at once', async () => {
    const stalling: BlockSource = { load: () => new Promise(() => {}) };
    const peers = client(300);
    const started = Date.now();
    await assertPeerFailed(peers.fetch(await serve(stalling), request), /in time/);
    assert.ok(Date.now() - started < 3000, `failed after ${Date.now() - started} ms`);
    await assertPeerFailed(peers.fetch(`127.0.0.1:${await freePort()}`, request), /unreachable|failed/);
    peers.close();
  });

  test('more calls than the owner takes at once (64) to a peer that stalls: all fail within the bound, and the client goes on', async () => {
    const stalling: BlockSource = { load: () => new Promise(() => {}) };
    const peers = client(500);
    const address = await serve(stalling);
    const started = Date.now();
    const calls = Array.from({ length: 70 }, (_, i) => peers.fetch(address, { ...request, key: `train/stall-${i}` }));
    // Those past 64, sent before the owner's SETTINGS came, are refused unprocessed and sent again: they time out as the rest.
    await Promise.all(calls.map((call) => assertPeerFailed(call, /in time/)));
    assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms`);
    const block = await peers.fetch(await serve(honest), request);
    assert.ok(block.bytes.equals(bytes));
    block.release();
    peers.close();
  });

  test('it is gRPC: a grpc-js client reads a block from the peer service, and the peer client reads one from a grpc-js server', async () => {
    const Peer = grpcService('cachalot/peer.proto', 'cachalot.peer.v1.Peer');
    const stock = new Peer(await serve(honest), credentials.createInsecure(), { interceptors: [bearerTokenInterceptor(TOKEN)] });
    const chunks: Array<{ length: number; crc32c: number; data: Buffer }> = [];
    await new Promise<void>((resolve, reject) => {
      const call = (stock as unknown as { GetBlock: (r: object) => NodeJS.EventEmitter }).GetBlock(request);
      call.on('data', (chunk: { length: number; crc32c: number; data: Buffer }) => chunks.push(chunk));
      call.on('error', reject);
      call.on('end', resolve);
    });
    stock.close();
    assert.ok(Buffer.concat(chunks.map((c) => c.data)).equals(bytes));
    assert.deepEqual([chunks[0].length, chunks[0].crc32c], [BLOCK, crc32c(bytes)]);

    const server = new Server({ interceptors: [requireBearerToken(TOKEN)] });
    server.addService(Peer.service, {
      GetBlock: (call: ServerWritableStream<object, object>) => {
        for (let at = 0; at < bytes.length; at += 1_000_000) {
          call.write({ ...(at === 0 ? { length: bytes.length, crc32c: crc32c(bytes) } : {}), data: bytes.subarray(at, at + 1_000_000) });
        }
        call.end();
      },
    });
    const address = await bindServer(server, '127.0.0.1:0', 'grpc-js peer', undefined);
    const peers = client();
    try {
      const block = await peers.fetch(address, request);
      assert.ok(block.bytes.equals(bytes));
      block.release();
    } finally {
      peers.close();
      server.forceShutdown();
    }
  });

  test('lz4 on the wire where it pays: a block that shrinks goes compressed (unless the asker declines), one that does not goes raw', async () => {
    const peers = client();
    received.length = 0;
    const squeezed = await peers.fetch(await serve(serving(compressible)), request);
    assert.ok(squeezed.bytes.equals(compressible));
    assert.equal(squeezed.crc32c, crc32c(compressible));
    squeezed.release();
    const raw = await peers.fetch(await serve(honest), request);
    assert.ok(raw.bytes.equals(bytes));
    raw.release();
    assert.equal(received[0][0], 'lz4');
    assert.ok(received[0][1] < BLOCK / 10, `${received[0][1]} bytes on the wire`);
    assert.deepEqual(received[1], ['raw', BLOCK]);
    peers.close();
    const declining = client(5000, TOKEN, false);
    const plain = await declining.fetch(await serve(serving(compressible)), request);
    assert.ok(plain.bytes.equals(compressible));
    plain.release();
    assert.deepEqual(received[2], ['raw', BLOCK]);
    declining.close();
  });

  test('lz4 from a peer that lies: bytes that fail the checksum, data that does not decompress, a length that would take memory it must not', async () => {
    const corrupt = Buffer.from(compressible);
    corrupt[777] ^= 1;
    const lying: BlockSource = { load: async () => Object.assign(BlockBuffer.wrap(corrupt), { crc32c: crc32c(compressible) }) };
    const peers = client();
    await assertPeerFailed(peers.fetch(await serve(lying), request), /CRC32C/);
    const lz4 = compressSync(compressible);
    const garbled = Buffer.from(lz4);
    garbled.fill(0xff, 4, 64);
    await assertPeerFailed(peers.fetch(await rawPeer(lz4Chunk(garbled, BLOCK)), request), /does not decompress|CRC32C|bytes/);
    await assertPeerFailed(peers.fetch(await rawPeer(lz4Chunk(lz4, BLOCK, 2 ** 31)), request), /lz4 data for a block/);
    peers.close();
  });

  test('a peer that dies mid-block, or ends the call without a status, fails the fetch; the next call connects again', async () => {
    const peers = client();
    const half = Buffer.concat([chunkPrefix(BLOCK, { length: BLOCK, crc32c: crc32c(bytes), encoding: ChunkEncoding.Raw, wireLength: BLOCK }), bytes]).subarray(0, BLOCK / 2);
    await assertPeerFailed(peers.fetch(await rawPeer(half, 'die'), request), /unreachable|closed|status|ended/);
    await assertPeerFailed(peers.fetch(await rawPeer(half, 'no-status'), request), /without a status/);
    const address = await serve(honest);
    const block = await peers.fetch(address, request);
    assert.ok(block.bytes.equals(bytes));
    block.release();
    peers.close();
  });

  test('chunk header fields in any order and unknown fields are read as protobuf requires; what the contract rules out is refused', async (t) => {
    const peers = client();
    t.after(() => peers.close());
    const header = [
      Buffer.from([0x10, ...varint(crc32c(bytes))]),
      Buffer.from([0x48, 0x96, 0x01]), // unknown field 9, varint
      Buffer.from([0x52, 0x03, 1, 2, 3]), // unknown field 10, bytes
      Buffer.from([0x59, 1, 2, 3, 4, 5, 6, 7, 8]), // unknown field 11, fixed64
      Buffer.from([0x08, ...varint(BLOCK)]),
    ];
    const data = Buffer.concat([Buffer.from([0x1a, ...varint(BLOCK)]), bytes]);
    const block = await peers.fetch(await rawPeer(frameMessage(Buffer.concat([...header, data]))), request);
    assert.ok(block.bytes.equals(bytes));
    block.release();
    // peer.proto: the header comes before the data, which goes straight into the block.
    await assertPeerFailed(peers.fetch(await rawPeer(frameMessage(Buffer.concat([data, ...header]))), request), /sent a block of 0 bytes/);
    const compressed = frameMessage(Buffer.from([0x08, 0x01]));
    compressed[0] = 1;
    await assertPeerFailed(peers.fetch(await rawPeer(compressed), request), /compressed message/);
    await assertPeerFailed(peers.fetch(await rawPeer(frameMessage(Buffer.from([0x1a, 0x10, 1, 2]))), request), /longer than its message/);
  });
});

function varint(value: number): number[] {
  const out: number[] = [];
  for (let rest = value; ; rest = Math.floor(rest / 0x80)) {
    if (rest < 0x80) return [...out, rest];
    out.push((rest % 0x80) | 0x80);
  }
}

/** One gRPC-framed BlockChunk carrying all of `data` as lz4, with the header given. */
function lz4Chunk(data: Buffer, length: number, wireLength = data.length): Buffer {
  return Buffer.concat([chunkPrefix(data.length, { length, crc32c: crc32c(compressible), encoding: ChunkEncoding.Lz4, wireLength }), data]);
}

/**
 * A peer service by hand that answers every call with `body` and status OK;
 * or sends `body` and then drops the connection ('die'), or ends the call
 * without a status ('no-status').
 */
async function rawPeer(body: Buffer, ending: 'ok' | 'die' | 'no-status' = 'ok'): Promise<string> {
  const server = createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    if (ending === 'ok') respondOk(stream);
    else stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    if (ending === 'die') stream.write(body, () => stream.session?.destroy());
    else stream.end(body);
  });
  const address = await listenHttp2(server, '127.0.0.1:0', 'test peer');
  servers.push({ address, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  return address;
}
