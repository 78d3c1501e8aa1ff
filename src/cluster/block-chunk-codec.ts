import { BadRequest } from '../errors';

/**
 * The wire form of the peer service's BlockChunk messages (proto/cachalot/
 * peer.proto), gRPC-framed, written and read by hand: the data field is sent
 * as a view of the cached block and received straight into the asker's
 * block buffer. A generic protobuf codec (and grpc-js around it) copies each
 * 1 MiB message twice on the way out and once more on the way in, each time
 * into a fresh buffer, and the garbage collector then spent more time than
 * anything else on both nodes (docs/BENCHMARKS.md, "Peer reads").
 *
 * message BlockChunk { uint64 length = 1; uint32 crc32c = 2; bytes data = 3; Encoding encoding = 4; uint64 wire_length = 5; }
 */

const FIELD_LENGTH = 1;
const FIELD_CRC32C = 2;
const FIELD_DATA = 3;
const FIELD_ENCODING = 4;
const FIELD_WIRE_LENGTH = 5;
const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;
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

/**
 * Reads a stream of gRPC-framed BlockChunk messages as it arrives, in pieces
 * of any size: fields in any order, unknown fields skipped, as protobuf
 * requires. Throws on what no encoder of the message would send.
 */
export class BlockChunkDecoder {
  private state: 'prefix' | 'key' | 'value' | 'data' | 'skip' = 'prefix';
  private prefix = Buffer.alloc(PREFIX_BYTES);
  private prefixFilled = 0;
  /** Bytes of the current message not yet read. */
  private messageLeft = 0;
  private field = 0;
  private wire = 0;
  /** The varint being read (across pieces): value so far, its next bit. */
  private varintValue = 0;
  private varintShift = 0;
  /** Bytes left of a data field or of a skipped one. */
  private bytesLeft = 0;
  /** The block's header as sent so far (proto3: 0 until a chunk sets a field; the first does). */
  length = 0;
  crc32c = 0;
  encoding: ChunkEncoding = ChunkEncoding.Raw;
  wireLength = 0;

  /** onData gets the block's bytes in order, as views of the arriving pieces. */
  constructor(private readonly onData: (bytes: Buffer) => void) {}

  /** True between messages: a stream may end here. */
  get atMessageBoundary(): boolean {
    return this.state === 'prefix' && this.prefixFilled === 0;
  }

  write(piece: Buffer): void {
    let at = 0;
    while (at < piece.length) {
      switch (this.state) {
        case 'prefix': {
          const n = Math.min(PREFIX_BYTES - this.prefixFilled, piece.length - at);
          piece.copy(this.prefix, this.prefixFilled, at, at + n);
          this.prefixFilled += n;
          at += n;
          if (this.prefixFilled < PREFIX_BYTES) break;
          if (this.prefix[0] !== 0) throw new Error('sent a compressed message, which was not asked for');
          this.prefixFilled = 0;
          this.messageLeft = this.prefix.readUInt32BE(1);
          this.startField();
          break;
        }
        case 'key':
        case 'value': {
          const done = this.readVarint(piece[at++]);
          if (!done) break;
          if (this.state === 'key') this.onKey(this.takeVarint());
          else this.onValue(this.takeVarint());
          break;
        }
        case 'data':
        case 'skip': {
          const n = Math.min(this.bytesLeft, piece.length - at);
          if (this.state === 'data') this.onData(piece.subarray(at, at + n));
          this.bytesLeft -= n;
          this.messageLeft -= n;
          at += n;
          if (this.bytesLeft === 0) this.startField();
          break;
        }
      }
    }
  }

  /** Reads one byte of a varint; true when it was the last. */
  private readVarint(byte: number): boolean {
    if (--this.messageLeft < 0) throw new Error('sent a message shorter than its fields');
    if (this.varintShift > 63) throw new Error('sent a malformed varint');
    this.varintValue += (byte & 0x7f) * 2 ** this.varintShift;
    this.varintShift += 7;
    return (byte & 0x80) === 0;
  }

  private takeVarint(): number {
    const value = this.varintValue;
    this.varintValue = 0;
    this.varintShift = 0;
    return value;
  }

  private startField(): void {
    if (this.messageLeft < 0) throw new Error('sent a field longer than its message');
    this.state = this.messageLeft === 0 ? 'prefix' : 'key';
  }

  private onKey(key: number): void {
    this.field = Math.floor(key / 8);
    this.wire = key % 8;
    if (this.wire === WIRE_I64 || this.wire === WIRE_I32) return this.skip(this.wire === WIRE_I64 ? 8 : 4);
    if (this.wire !== WIRE_VARINT && this.wire !== WIRE_LEN) throw new Error(`sent a field of wire type ${this.wire}`);
    this.state = 'value';
  }

  private onValue(value: number): void {
    if (this.wire === WIRE_LEN) {
      if (value > this.messageLeft) throw new Error('sent a field longer than its message');
      if (this.field === FIELD_DATA) {
        this.bytesLeft = value;
        this.state = 'data';
        if (value === 0) this.startField();
        return;
      }
      return this.skip(value);
    }
    if (this.field === FIELD_LENGTH) this.length = value;
    if (this.field === FIELD_CRC32C) this.crc32c = value >>> 0;
    if (this.field === FIELD_ENCODING) this.encoding = value;
    if (this.field === FIELD_WIRE_LENGTH) this.wireLength = value;
    this.startField();
  }

  private skip(bytes: number): void {
    if (bytes > this.messageLeft) throw new Error('sent a field longer than its message');
    this.bytesLeft = bytes;
    this.state = 'skip';
    if (bytes === 0) this.startField();
  }
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
