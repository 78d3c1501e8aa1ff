import { uncompress } from 'lz4-napi';
import { BlockChunkDecoder, ChunkEncoding } from './block-chunk-codec';
import { crc32c } from '../block/crc32c';

/** Bytes of lz4-napi's prefix: the uncompressed length, little-endian. */
const LZ4_PREFIX_BYTES = 4;

/**
 * Puts one block together from the BlockChunks of a GetBlock call, into the
 * buffer it was given (exactly the block's length): raw data straight in
 * (its CRC32C taken piece by piece while each is still in the CPU's cache),
 * lz4 data gathered and then decompressed. Whatever a peer sends, the block is complete, as long as
 * asked and matches its CRC32C, or finish() says what is wrong.
 */
export class BlockReceiver {
  readonly decoder = new BlockChunkDecoder((bytes) => this.take(bytes));
  /** Bytes of data received, as they came on the wire. */
  wireBytes = 0;
  /** The block's CRC32C, once finish() found it right. */
  crc32c?: number;
  private crc = 0;
  /** The lz4 bytes, for a block sent compressed. */
  private lz4?: Buffer;

  constructor(private readonly target: Buffer) {}

  get encoding(): ChunkEncoding {
    return this.decoder.encoding;
  }

  /** Undefined once the block is whole and checked (crc32c set), else what the peer did wrong. */
  async finish(): Promise<string | undefined> {
    const { decoder, target } = this;
    const expected = target.length;
    const wanted = this.lz4 ? this.lz4.length : expected;
    if (this.wireBytes !== wanted || !decoder.atMessageBoundary) return `ended the block after ${this.wireBytes} of ${wanted} bytes`;
    if (this.lz4) {
      if (this.lz4.readUInt32LE(0) !== expected) return `sent lz4 data of a block of ${this.lz4.readUInt32LE(0)} bytes for one of ${expected}`;
      let bytes: Buffer;
      try {
        bytes = await uncompress(this.lz4);
      } catch (err) {
        return `sent lz4 data that does not decompress (${(err as Error).message})`;
      }
      if (bytes.length !== expected) return `sent lz4 data of ${bytes.length} bytes for a block of ${expected}`;
      bytes.copy(target);
      this.crc = crc32c(target);
    }
    if (this.crc !== decoder.crc32c) return 'sent a block whose CRC32C does not match';
    this.crc32c = this.crc;
    return undefined;
  }

  /** Data as it arrives; throws what the peer did wrong. */
  private take(bytes: Buffer): void {
    const { target } = this;
    const expected = target.length;
    if (this.wireBytes === 0) this.start(expected);
    if (this.lz4) {
      if (this.wireBytes + bytes.length > this.lz4.length) throw new Error(`sent more than its ${this.lz4.length} bytes of lz4 data`);
      bytes.copy(this.lz4, this.wireBytes);
    } else {
      if (this.wireBytes + bytes.length > expected) throw new Error(`sent more than the block's ${expected} bytes`);
      bytes.copy(target, this.wireBytes);
      this.crc = crc32c(bytes, this.crc);
    }
    this.wireBytes += bytes.length;
  }

  /** At the first data: the header must have come, and says where the data goes. */
  private start(expected: number): void {
    const { length, encoding, wireLength } = this.decoder;
    if (length !== expected) throw new Error(`sent a block of ${length} bytes for one of ${expected}`);
    if (encoding === ChunkEncoding.Raw) return;
    if (encoding !== ChunkEncoding.Lz4) throw new Error(`sent a block in encoding ${encoding}, which was not asked for`);
    // Only a block that shrinks is sent compressed: a larger claim is a lie, and memory it must not get.
    if (wireLength <= LZ4_PREFIX_BYTES || wireLength > expected) throw new Error(`sent ${wireLength} bytes of lz4 data for a block of ${expected}`);
    this.lz4 = Buffer.allocUnsafe(wireLength);
  }
}
