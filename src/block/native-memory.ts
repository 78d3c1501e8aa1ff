import { io } from '../io-addon';

/** The alignment O_DIRECT wants of memory, file offsets and lengths: a page. */
export const DIRECT_IO_ALIGNMENT = 4096;

/**
 * A Buffer whose memory starts on a page boundary, for O_DIRECT I/O (Node's
 * own large Buffers start 16 bytes past one). From native/io.
 */
export function pageAlignedBuffer(size: number): Buffer {
  return io().alignedBuffer(size, DIRECT_IO_ALIGNMENT);
}
