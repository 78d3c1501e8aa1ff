import { io } from '../io-addon';

/**
 * The CRC32C (Castagnoli) of `bytes` appended to bytes whose CRC32C was
 * `initial` (0 to start), as @node-rs/crc32's crc32c computes it: native/io's,
 * three interleaved streams of the CPU's crc32 instruction where a library
 * runs one. Every block is checksummed when fetched and checked when a tier
 * hands it back, so this is on every read path (native/README.md).
 */
export function crc32c(bytes: Uint8Array, initial = 0): number {
  return io().crc32c(bytes, initial);
}
