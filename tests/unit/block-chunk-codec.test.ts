// The hand-written BlockChunk encoder against the .proto's own codec
// (protobufjs): what chunkPrefix frames, protobufjs reads. The asker's
// decoder (native/peer) is tested against crafted chunks in peer-service.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChunkEncoding, chunkPrefix } from '../../src/cluster/block-chunk-codec';
import { grpcService } from '../../src/rpc/grpc-service';

const chunkCodec = () => grpcService('cachalot/peer.proto', 'cachalot.peer.v1.Peer').service.GetBlock;
const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 13 + 5) & 0xff));

test('chunks written by chunkPrefix read back by the .proto codec: the first with the header, raw or lz4, the next with data alone', () => {
  const first = data.subarray(0, 100_000);
  const read = (chunk: Buffer) => chunkCodec().responseDeserialize(chunk.subarray(5)) as { length: number; crc32c: number; data: Buffer; encoding: string; wireLength: number };
  const raw = read(Buffer.concat([chunkPrefix(first.length, { length: data.length, crc32c: 0xfedcba98, encoding: ChunkEncoding.Raw, wireLength: data.length }), first]));
  assert.equal(raw.length, data.length);
  assert.equal(raw.crc32c, 0xfedcba98);
  assert.ok(Buffer.from(raw.data).equals(first));
  const lz4 = read(Buffer.concat([chunkPrefix(first.length, { length: 4_000_000, crc32c: 7, encoding: ChunkEncoding.Lz4, wireLength: 123_456 }), first]));
  assert.deepEqual([lz4.length, lz4.crc32c, lz4.wireLength], [4_000_000, 7, 123_456]);
  assert.notEqual(lz4.encoding, raw.encoding, 'the encoding is sent when not raw');
  const next = read(Buffer.concat([chunkPrefix(data.length - first.length), data.subarray(first.length)]));
  assert.ok(Buffer.from(next.data).equals(data.subarray(first.length)));
  assert.equal(next.length, 0, 'only the first chunk carries the header');
});
