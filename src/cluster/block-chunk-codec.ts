import { BadRequest } from '../errors';

/**
 * The wire form of the peer service's BlockChunk messages (proto/cachalot/
 * peer.proto), gRPC-framed, written by hand: the data field is sent as a
 * view of the cached block, and the asker reads the chunks straight into
 * its block buffer (native/peer, block-assembler.cc). A generic protobuf
 * codec (and grpc-js around it) copies each 1 MiB message twice on the way
 * out and once more on the way in, each time into a fresh buffer: garbage
 * whose collection cost more than anything else on both nodes
 * (docs/BENCHMARKS.md, "Findings"). The price is a codec of our own, which the unit tests hold
 * to the .proto with stock grpc-js.
 *
 * message BlockChunk { uint64 length = 1; uint32 crc32c = 2; bytes data = 3; Encoding encoding = 4; uint64 wire_length = 5; }
 */

const FIELD_LENGTH = 1;
const FIELD_CRC32C = 2;
const FIELD_DATA = 3;
const FIELD_ENCODING = 4;
const FIELD_WIRE_LENGTH = 5;
const WIRE_VARINT = 0;
const WIRE_LEN = 2;
/** gRPC's message prefix: a compressed flag and the message length (big-endian). */
const PREFIX_BYTES = 5;

/** Encoding of a block's data on the wire (peer.proto's enum). */
export const enum ChunkEncoding {
  Raw = 0,
  /** lz4-napi's format: lz4 block with the uncompressed length (4 bytes, little-endian) before it. */
  Lz4 = 1,
}

/** What the first chunk of a block says of it. */
export interface BlockHeader {
  length: number;
  /** Of the block's own bytes, whatever the encoding. */
  crc32c: number;
  encoding: ChunkEncoding;
  /** Bytes of data on the wire, all chunks together. */
  wireLength: number;
}

/**
 * The bytes that go before `dataLength` bytes of block data to make one
 * gRPC-framed BlockChunk; the first chunk of a block also carries its header.
 */
export function chunkPrefix(dataLength: number, first?: BlockHeader): Buffer {
  const fields: number[] = [];
  if (first) {
    fields.push(key(FIELD_LENGTH, WIRE_VARINT), ...varint(first.length), key(FIELD_CRC32C, WIRE_VARINT), ...varint(first.crc32c >>> 0));
    if (first.encoding !== ChunkEncoding.Raw) {
      fields.push(key(FIELD_ENCODING, WIRE_VARINT), ...varint(first.encoding), key(FIELD_WIRE_LENGTH, WIRE_VARINT), ...varint(first.wireLength));
    }
  }
  fields.push(key(FIELD_DATA, WIRE_LEN), ...varint(dataLength));
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES + fields.length);
  prefix[0] = 0;
  prefix.writeUInt32BE(fields.length + dataLength, 1);
  prefix.set(fields, PREFIX_BYTES);
  return prefix;
}

/** A gRPC-framed message (a request), uncompressed. */
export function frameMessage(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, PREFIX_BYTES);
  return framed;
}

/** The message of a body that must be one uncompressed gRPC-framed message (a unary call's request or reply). */
export function unframeMessage(body: Buffer): Buffer {
  if (body.length < PREFIX_BYTES || body[0] !== 0 || body.readUInt32BE(1) !== body.length - PREFIX_BYTES) throw new BadRequest('not one uncompressed gRPC message');
  return body.subarray(PREFIX_BYTES);
}

function key(field: number, wire: number): number {
  return (field << 3) | wire;
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}
