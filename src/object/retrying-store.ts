import { isCachalotError } from '../errors';
import { multipartEtag } from './multipart';
import type { Operation } from './operations';
import type { CompleteRequest, CopyRequest, ListPage, ListRequest, ObjectInfo, ObjectStore, PutRequest, RangeRequest, UploadPartRequest, Written } from './types';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 4000 };

export interface RetryObserver {
  onRetry?(operation: string, attempt: number, err: unknown): void;
  onGiveUp?(operation: string, err: unknown): void;
}

/**
 * Retries what S3 says may succeed later (503 SlowDown, 5xx, timeouts, dropped
 * connections, short bodies) with capped exponential backoff and full jitter.
 * Bounded: after maxAttempts the last error goes up. Writes are retried alike:
 * each is idempotent (a part sent again replaces itself; an upload body is
 * read again from its file range by the store below), and a Complete sent
 * again is settled by what the key holds (completeMultipartUpload). A create
 * whose answer was lost leaves an upload nobody knows of: only a lifecycle
 * rule (AbortIncompleteMultipartUpload) removes it.
 */
export class RetryingStore implements ObjectStore {
  constructor(
    private readonly inner: ObjectStore,
    private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    private readonly observer: RetryObserver = {},
  ) {}

  get bucket(): string {
    return this.inner.bucket;
  }

  checkBucket(): Promise<void> {
    // Start-up checks report at once: a wrong endpoint should not take a minute to say so.
    return this.inner.checkBucket();
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.attempt('head', () => this.inner.head(key));
  }

  list(request: ListRequest): Promise<ListPage> {
    return this.attempt('list', () => this.inner.list(request));
  }

  async getRange(request: RangeRequest): Promise<Buffer[]> {
    const { into, onFilled } = request;
    if (!into) return this.attempt('get', () => this.inner.getRange(request), request.signal);
    // A retry asks only for the buffers not yet full: one already reported
    // full may be in use (served, being written to disk) and is not written again.
    let full = 0;
    let start = request.start;
    const rest = () => ({
      ...request,
      start,
      into: into.slice(full),
      onFilled: () => {
        onFilled?.(full);
        start += into[full].length;
        full++;
      },
    });
    await this.attempt('get', () => this.inner.getRange(rest()), request.signal);
    return into;
  }

  putObject(request: PutRequest): Promise<Written> {
    return this.attempt('put', () => this.inner.putObject(request));
  }

  createMultipartUpload(key: string): Promise<string> {
    return this.attempt('create-upload', () => this.inner.createMultipartUpload(key));
  }

  uploadPart(request: UploadPartRequest): Promise<Written> {
    return this.attempt('upload-part', () => this.inner.uploadPart(request));
  }

  /**
   * A Complete whose answer was lost may have completed the upload, and the
   * next attempt then finds it gone (NoSuchUpload). That counts as done only
   * when the key holds the very object these parts make: its ETag is the one
   * S3 computes from the parts' ETags. Trade-off: where ETags are no MD5s
   * (SSE-KMS, SSE-C) the check fails, and an upload that did complete is
   * reported failed: a false failure, never a false success.
   */
  completeMultipartUpload(request: CompleteRequest): Promise<Written> {
    let sent = false;
    return this.attempt('complete-upload', async () => {
      try {
        return await this.inner.completeMultipartUpload(request);
      } catch (err) {
        if (!sent || !isCachalotError(err, 'NoSuchUpload')) {
          sent = true;
          throw err;
        }
        const etag = multipartEtag(request.parts.map((part) => part.etag));
        if ((await this.inner.head(request.key))?.etag === etag) return { etag };
        throw err;
      }
    });
  }

  abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    return this.attempt('abort-upload', () => this.inner.abortMultipartUpload(key, uploadId));
  }

  deleteObject(key: string): Promise<void> {
    return this.attempt('delete', () => this.inner.deleteObject(key));
  }

  copyObject(request: CopyRequest): Promise<Written> {
    return this.attempt('copy', () => this.inner.copyObject(request));
  }

  private async attempt<T>(operation: Operation, run: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (err) {
        const retryable = isCachalotError(err) && err.retryable && !signal?.aborted;
        if (!retryable || attempt >= this.policy.maxAttempts) {
          if (retryable) this.observer.onGiveUp?.(operation, err);
          throw err;
        }
        this.observer.onRetry?.(operation, attempt, err);
        const cap = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1));
        await sleep(Math.random() * cap);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
