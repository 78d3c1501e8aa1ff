import { compress, compressSync } from 'lz4-napi';

/** Enough to judge a block's compressibility in well under a millisecond. */
const SAMPLE_BYTES = 64 * 1024;
/** The sample must shrink at least this much before the whole block is compressed. */
const SAMPLE_RATIO = 0.8;
/** Below this saving the decompression on every hit costs more than the memory is worth. */
const BLOCK_RATIO = 0.9;

/**
 * The block's lz4 bytes where lz4 pays, else undefined (keep it raw). Most
 * training data (JPEG, parquet with codecs, tokenised shards) is already
 * compressed, so a synchronous look at a sample from the middle of the block
 * (headers at the start are unrepresentative) spares the thread pool a full
 * 8 MiB pass for nothing; the whole block is compressed on libuv's thread
 * pool, off the event loop.
 */
export async function compressIfItPays(bytes: Buffer): Promise<Buffer | undefined> {
  const start = Math.max(0, Math.floor((bytes.length - SAMPLE_BYTES) / 2));
  const sample = bytes.subarray(start, start + SAMPLE_BYTES);
  if (compressSync(sample).length > SAMPLE_RATIO * sample.length) return undefined;
  const compressed = await compress(bytes);
  return compressed.length <= BLOCK_RATIO * bytes.length ? compressed : undefined;
}
