import { isCachalotError } from '../errors';
import type { Metrics } from '../obs/metrics';
import type { ListPage, ListRequest, ObjectInfo, ObjectStore, RangeRequest } from './types';

/** Counts every request that reaches S3 (retries included) and the bytes GETs bring back. */
export class InstrumentedStore implements ObjectStore {
  constructor(
    private readonly inner: ObjectStore,
    private readonly metrics: Metrics,
  ) {}

  get bucket(): string {
    return this.inner.bucket;
  }

  checkBucket(): Promise<void> {
    return this.count('head_bucket', () => this.inner.checkBucket());
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.count('head', () => this.inner.head(key));
  }

  list(request: ListRequest): Promise<ListPage> {
    return this.count('list', () => this.inner.list(request));
  }

  async getRange(request: RangeRequest): Promise<Buffer[]> {
    const bytes = await this.count('get', () => this.inner.getRange(request));
    this.metrics.s3GetBytes.inc(request.end - request.start);
    return bytes;
  }

  private async count<T>(op: string, run: () => Promise<T>): Promise<T> {
    this.metrics.s3Requests.inc({ op });
    try {
      return await run();
    } catch (err) {
      this.metrics.s3Errors.inc({ op, code: isCachalotError(err) ? err.code : 'Internal' });
      throw err;
    }
  }
}
