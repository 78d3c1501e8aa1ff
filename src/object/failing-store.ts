import { CachalotError, ErrorCode } from '../errors';
import { countsPerOperation, type Operation } from './operations';
import type { CompleteRequest, CopyRequest, ListPage, ListRequest, ObjectInfo, ObjectStore, PutRequest, RangeRequest, UploadPartRequest, Written } from './types';

export interface Fault {
  /** Which operations fail; all when omitted. */
  operations?: Operation[];
  code: ErrorCode;
  /** How many calls fail before the fault is spent; Infinity for all. */
  times: number;
  /** The call reaches the store below and only its answer is lost, as when S3 acted and the connection then dropped. */
  answerLost?: boolean;
}

/**
 * Fault-injecting wrapper: the next calls fail with the given typed error,
 * as a throttling, flaky or dead S3 would: before they reach the store below
 * (a write that fails so never happened), or after it (answerLost). Used by
 * tests of the retry, read and write paths; deterministic, so failures
 * reproduce.
 */
export class FailingStore implements ObjectStore {
  private faults: Fault[] = [];
  readonly injected = countsPerOperation();

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

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.run('head', () => this.inner.head(key));
  }

  list(request: ListRequest): Promise<ListPage> {
    return this.run('list', () => this.inner.list(request));
  }

  getRange(request: RangeRequest): Promise<Buffer[]> {
    return this.run('get', () => this.inner.getRange(request));
  }

  putObject(request: PutRequest): Promise<Written> {
    return this.run('put', () => this.inner.putObject(request));
  }

  createMultipartUpload(key: string): Promise<string> {
    return this.run('create-upload', () => this.inner.createMultipartUpload(key));
  }

  uploadPart(request: UploadPartRequest): Promise<Written> {
    return this.run('upload-part', () => this.inner.uploadPart(request));
  }

  completeMultipartUpload(request: CompleteRequest): Promise<Written> {
    return this.run('complete-upload', () => this.inner.completeMultipartUpload(request));
  }

  abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    return this.run('abort-upload', () => this.inner.abortMultipartUpload(key, uploadId));
  }

  deleteObject(key: string): Promise<void> {
    return this.run('delete', () => this.inner.deleteObject(key));
  }

  copyObject(request: CopyRequest): Promise<Written> {
    return this.run('copy', () => this.inner.copyObject(request));
  }

  private async run<T>(operation: Operation, call: () => Promise<T>): Promise<T> {
    const fault = this.faults.find((f) => f.times > 0 && (!f.operations || f.operations.includes(operation)));
    if (!fault) return call();
    fault.times--;
    this.injected[operation]++;
    const injected = new CachalotError(fault.code, `injected ${fault.code} on ${operation}`);
    if (!fault.answerLost) throw injected;
    await call();
    throw injected;
  }
}
