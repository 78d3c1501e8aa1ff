import { resolve } from 'node:path';

/** The alignment O_DIRECT wants of memory, file offsets and lengths: a page. */
export const DIRECT_IO_ALIGNMENT = 4096;

const ADDON = resolve(__dirname, '../../../native/io/build/Release/cachalot_io.node');

let addon: { alignedBuffer(size: number, alignment: number): Buffer } | undefined;

/**
 * A Buffer whose memory starts on a page boundary, for O_DIRECT I/O (Node's
 * own large Buffers start 16 bytes past one). From native/io.
 */
export function pageAlignedBuffer(size: number): Buffer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  addon ??= require(ADDON) as NonNullable<typeof addon>;
  return addon.alignedBuffer(size, DIRECT_IO_ALIGNMENT);
}
