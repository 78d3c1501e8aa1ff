import { CachalotError, ErrorCode } from '../errors';
import type { ListPage, ListRequest, ObjectInfo, ObjectStore, RangeRequest } from './types';

export type Operation = 'head' | 'list' | 'get';

export interface Fault {
  /** Which operations fail; all when omitted. */
  operations?: Operation[];
  code: ErrorCode;
  /** How many calls fail before the fault is spent; Infinity for all. */
  times: number;
}

/**
 * Fault-injecting wrapper: the next calls fail with the given typed error,
 * as a throttling, flaky or dead S3 would. Used by tests of the retry and
 * read paths; deterministic, so failures reproduce.
 */
export class FailingStore implements ObjectStore {
  private faults: Fault[] = [];
  readonly injected = { head: 0, list: 0, get: 0 };

  constructor(private readonly inner: ObjectStore) {}

  get bucket(): string {
    return this.inner.bucket;
  }

  inject(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  clear(): void {
    this.faults = [];
  }

  checkBucket(): Promise<void> {
    return this.inner.checkBucket();
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    this.maybeFail('head');
    return this.inner.head(key);
  }

  async list(request: ListRequest): Promise<ListPage> {
    this.maybeFail('list');
    return this.inner.list(request);
  }

  async getRange(request: RangeRequest): Promise<Buffer[]> {
    this.maybeFail('get');
    return this.inner.getRange(request);
  }

  private maybeFail(operation: Operation): void {
    const fault = this.faults.find((f) => f.times > 0 && (!f.operations || f.operations.includes(operation)));
    if (!fault) return;
    fault.times--;
    this.injected[operation]++;
    throw new CachalotError(fault.code, `injected ${fault.code} on ${operation}`);
  }
}
