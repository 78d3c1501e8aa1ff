import { isCachalotError } from '../errors';
import type { ListPage, ListRequest, ObjectInfo, ObjectStore, RangeRequest } from './types';

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
 * Bounded: after maxAttempts the last error goes up.
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

  private async attempt<T>(operation: string, run: () => Promise<T>, signal?: AbortSignal): Promise<T> {
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
