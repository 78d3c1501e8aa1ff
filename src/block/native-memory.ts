import { io } from './io-addon';

/** The alignment O_DIRECT wants of memory, file offsets and lengths: a page. */
export const DIRECT_IO_ALIGNMENT = 4096;

/**
 * A Buffer whose memory starts on a page boundary, for O_DIRECT I/O (Node's
 * own large Buffers start 16 bytes past one). From native/io.
 */
export function pageAlignedBuffer(size: number): Buffer {
  return io().alignedBuffer(size, DIRECT_IO_ALIGNMENT);
}

/** Where a Buffer's memory is, for another thread of this process to see it by bufferAt. */
export function addressOf(buffer: Buffer): bigint {
  return io().addressOf(buffer);
}

/**
 * A view of memory that addressOf gave, on this thread: the caller vouches
 * that the memory stays allocated, and that nobody else writes it, while the
 * view is used. It frees nothing.
 */
export function bufferAt(address: bigint, length: number): Buffer {
  return io().bufferAt(address, length);
}
