/**
 * The part sizes of a multipart upload whose size is not known when it
 * starts (a file being written): S3 takes at most 10,000 parts of 5 MiB to
 * 5 GiB (the last may be smaller). Parts start at `base` (at least 8 MiB)
 * and double every 1,000, so that small files need few parts and the
 * largest object S3 takes (5 TiB) still fits: 1,000 parts of each of 8 MiB
 * ... 4 GiB sum to 8 TiB. Parts are read from the file on disk as they are
 * sent, so their size costs no memory.
 */
export const MAX_PARTS = 10_000;
export const MAX_PART_BYTES = 5 * 2 ** 30;
const PARTS_PER_SIZE = 1000;
const FIRST_PART_BYTES = 8 * 2 ** 20;

/** The size of part `partNumber` (1-based) of an upload whose parts start at `base` or 8 MiB, whichever is larger. */
export function partSize(partNumber: number, base = FIRST_PART_BYTES): number {
  const doublings = Math.floor((partNumber - 1) / PARTS_PER_SIZE);
  return Math.min(MAX_PART_BYTES, Math.max(FIRST_PART_BYTES, base) * 2 ** doublings);
}
