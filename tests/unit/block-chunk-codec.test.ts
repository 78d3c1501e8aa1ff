// The hand-written BlockChunk codec against the .proto's own (protobufjs):
// what one encodes the other reads, whatever the pieces the stream arrives in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlockChunkDecoder, ChunkEncoding, chunkPrefix, frameMessage } from '../../src/cluster/block-chunk-codec';
import { grpcService } from '../../src/cluster/grpc-service';
import { makeRng } from '../support/e2e-helpers';

const chunkCodec = () => grpcService('cachalot/peer.proto', 'cachalot.peer.v1.Peer').service.GetBlock;
const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 13 + 5) & 0xff));

/** Feeds the stream in pieces of random sizes (1 byte and up) and returns what the decoder gathered. */
function decode(stream: Buffer, seed: number, maxPiece: number): { data: Buffer; length: number; crc32c: number; boundary: boolean } {
  const rng = makeRng(seed);
  const out: Buffer[] = [];
  const decoder = new BlockChunkDecoder((bytes) => out.push(Buffer.from(bytes)));
  for (let at = 0; at < stream.length; ) {
    const n = 1 + rng.int(maxPiece);
    decoder.write(stream.subarray(at, at + n));
    at += n;
  }
  return { data: Buffer.concat(out), length: decoder.length, crc32c: decoder.crc32c, boundary: decoder.atMessageBoundary };
}

test('chunks written by chunkPrefix read back by the .proto codec, and protobufjs chunks by the decoder', () => {
  const first = data.subarray(0, 100_000);
  const ours = Buffer.concat([chunkPrefix(first.length, { length: data.length, crc32c: 0xfedcba98, encoding: ChunkEncoding.Raw, wireLength: data.length }), first]);
  const decoded = chunkCodec().responseDeserialize(ours.subarray(5)) as { length: number; crc32c: number; data: Buffer };
  assert.equal(decoded.length, data.length);
  assert.equal(decoded.crc32c, 0xfedcba98);
  assert.ok(Buffer.from(decoded.data).equals(first));

  const theirs = Buffer.concat([
    frameMessage(chunkCodec().responseSerialize({ length: data.length, crc32c: 0x80000001, data: first })),
    frameMessage(chunkCodec().responseSerialize({ data: data.subarray(100_000) })),
  ]);
  for (const [seed, maxPiece] of [[1, 1], [2, 7], [3, 16_384], [4, 1_000_000]]) {
    const got = decode(theirs, seed, maxPiece);
    assert.ok(got.data.equals(data), `pieces up to ${maxPiece} bytes`);
    assert.equal(got.length, data.length);
    assert.equal(got.crc32c, 0x80000001);
    assert.ok(got.boundary);
  }
});

test('fields in any order and unknown fields are read as protobuf requires; a cut stream is not at a message boundary', () => {
  // data first, then crc32c, then an unknown varint field 9 and an unknown bytes field 10, then length.
  const message = Buffer.concat([
    Buffer.from([0x1a, 0x04]), data.subarray(0, 4),
    Buffer.from([0x10, 0x2a]),
    Buffer.from([0x48, 0x96, 0x01]),
    Buffer.from([0x52, 0x03, 1, 2, 3]),
    Buffer.from([0x08, 0x04]),
  ]);
  const got = decode(frameMessage(message), 5, 3);
  assert.ok(got.data.equals(data.subarray(0, 4)));
  assert.equal(got.crc32c, 42);
  assert.equal(got.length, 4);
  const framed = frameMessage(message);
  assert.equal(decode(framed.subarray(0, framed.length - 1), 6, 3).boundary, false);
});

test('what no encoder sends is refused: compressed messages, fields longer than their message', () => {
  const compressed = frameMessage(Buffer.from([0x08, 0x01]));
  compressed[0] = 1;
  assert.throws(() => decode(compressed, 7, 4), /compressed/);
  assert.throws(() => decode(frameMessage(Buffer.from([0x1a, 0x10, 1, 2])), 8, 4), /longer than its message/);
});
