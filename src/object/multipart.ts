import { createHash } from 'node:crypto';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** S3's smallest part, the last one excepted. */
export const MIN_PART_SIZE = 5 * MiB;
/** S3's largest part; also the largest single PUT and CopyObject. */
export const MAX_PART_SIZE = 5 * GiB;

/**
 * How a server-side copy goes: up to `single` bytes as one CopyObject, a
 * larger object as a multipart upload of part copies of `partSize` bytes.
 */
export interface CopyPolicy {
  single: number;
  partSize: number;
}

/**
 * S3's limit for one CopyObject; 1 GiB part copies: a 5 TiB object (S3's
 * largest) takes 5,120 of the 10,000 parts allowed, and a 20 GiB checkpoint
 * 20 copies that run in parallel. Smaller parts only add requests.
 */
export const DEFAULT_COPY_POLICY: CopyPolicy = { single: MAX_PART_SIZE, partSize: GiB };

/** The byte ranges [start, end) of a multipart copy of `size` bytes, in part order. */
export function copyRanges(size: number, partSize: number): Array<{ start: number; end: number }> {
  const ranges: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < size; start += partSize) ranges.push({ start, end: Math.min(size, start + partSize) });
  return ranges;
}

/**
 * The ETag S3 gives an object completed from parts (quotes included): the
 * md5 of the parts' binary md5s one after another, then "-" and the number
 * of parts. It holds where a part's ETag is its md5 (no SSE-KMS, no SSE-C).
 */
export function multipartEtag(partEtags: string[]): string {
  const md5 = createHash('md5');
  for (const etag of partEtags) md5.update(Buffer.from(unquoted(etag), 'hex'));
  return `"${md5.digest('hex')}-${partEtags.length}"`;
}

/** An ETag without its quotes: S3 compares part ETags so. */
export function unquoted(etag: string): string {
  return etag.replace(/"/g, '');
}
