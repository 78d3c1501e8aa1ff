import { CachalotError, oneLine } from '../errors';
import { copyRanges } from './multipart';
import type { CompletedPart, CopyRequest, ObjectStore, Written } from './types';

/** One UploadPartCopy: bytes [start, end) of `from` as part `partNumber` of an upload to `to`. */
export interface PartCopy {
  from: string;
  to: string;
  uploadId: string;
  partNumber: number;
  start: number;
  end: number;
  /** The source's ETag: every part is copied from the same version. */
  ifMatch: string;
}

/** Part copies in flight at once: server-side copies, so few connections keep S3 busy. */
const CONCURRENCY = 8;

/**
 * A copy larger than one CopyObject may be: a multipart upload of part copies
 * of partSize bytes, each pinned to the source's ETag as HEAD sees it first
 * (a copy is never of two versions). A failure aborts the upload and goes up,
 * so a retry starts the copy over. Trade-off: one failed part costs the whole
 * copy, in exchange for one rule of retrying (the RetryingStore's, per
 * operation); copies are server-side, so it costs time, not bytes sent.
 */
export async function copyInParts(store: ObjectStore, request: CopyRequest, partSize: number, copyPart: (part: PartCopy) => Promise<Written>): Promise<Written> {
  const what = `copy ${request.from} to ${request.to}`;
  const source = await store.head(request.from);
  if (!source) throw new CachalotError('NotFound', `${what}: no such key`);
  if (request.ifMatch !== undefined && source.etag !== request.ifMatch) throw new CachalotError('PreconditionFailed', `${what}: the source changed`);
  const uploadId = await store.createMultipartUpload(request.to);
  try {
    const ranges = copyRanges(source.size, partSize);
    const parts = await runBounded(ranges, async ({ start, end }, index): Promise<CompletedPart> => {
      const partNumber = index + 1;
      const { etag } = await copyPart({ from: request.from, to: request.to, uploadId, partNumber, start, end, ifMatch: source.etag });
      return { partNumber, etag };
    });
    return await store.completeMultipartUpload({ key: request.to, uploadId, parts });
  } catch (err) {
    throw await afterAbort(store, request.to, uploadId, err);
  }
}

/**
 * Runs every item, CONCURRENCY at a time, and stops taking new ones at the
 * first failure, which goes up once the copies in flight have settled (so
 * that the abort after it finds none still writing a part).
 */
async function runBounded<T, R>(items: T[], run: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        results[index] = await run(items[index], index);
      } catch (err) {
        // Later failures are the same trouble seen again; the first one says it.
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  if (failure) throw failure.err;
  return results;
}

/** The copy's error once its upload is aborted; a failed abort is named in it (the upload then lingers until a lifecycle rule ends it). */
async function afterAbort(store: ObjectStore, key: string, uploadId: string, err: unknown): Promise<unknown> {
  try {
    await store.abortMultipartUpload(key, uploadId);
    return err;
  } catch (abortErr) {
    const code = err instanceof CachalotError ? err.code : 'Internal';
    return new CachalotError(code, `${oneLine(err)}; aborting upload ${uploadId} failed too: ${oneLine(abortErr)}`, { cause: err });
  }
}
