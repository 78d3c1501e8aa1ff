import { isCachalotError } from '../errors';
import type { Metrics } from '../obs/metrics';
import type { Operation } from './operations';
import type { CompleteRequest, CopyRequest, ListPage, ListRequest, ObjectInfo, ObjectStore, PutRequest, RangeRequest, UploadBody, UploadPartRequest, Written } from './types';
import { bodyLength } from './upload-body';

/**
 * Counts every request that reaches S3 (retries included), the bytes GETs
 * bring back and the bytes PUTs and parts S3 took. A copy counts once, also
 * one above 5 GiB that S3 takes as several part copies.
 */
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

  putObject(request: PutRequest): Promise<Written> {
    return this.upload('put', request.body, () => this.inner.putObject(request));
  }

  createMultipartUpload(key: string): Promise<string> {
    return this.count('create-upload', () => this.inner.createMultipartUpload(key));
  }

  uploadPart(request: UploadPartRequest): Promise<Written> {
    return this.upload('upload-part', request.body, () => this.inner.uploadPart(request));
  }

  completeMultipartUpload(request: CompleteRequest): Promise<Written> {
    return this.count('complete-upload', () => this.inner.completeMultipartUpload(request));
  }

  abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    return this.count('abort-upload', () => this.inner.abortMultipartUpload(key, uploadId));
  }

  deleteObject(key: string): Promise<void> {
    return this.count('delete', () => this.inner.deleteObject(key));
  }

  copyObject(request: CopyRequest): Promise<Written> {
    return this.count('copy', () => this.inner.copyObject(request));
  }

  /** A request with a body: its bytes counted once S3 took them. */
  private async upload(op: Operation, body: UploadBody, run: () => Promise<Written>): Promise<Written> {
    const written = await this.count(op, run);
    this.metrics.s3PutBytes.inc(bodyLength(body));
    return written;
  }

  private async count<T>(op: Operation | 'head_bucket', run: () => Promise<T>): Promise<T> {
    this.metrics.s3Requests.inc({ op });
    try {
      return await run();
    } catch (err) {
      this.metrics.s3Errors.inc({ op, code: isCachalotError(err) ? err.code : 'Internal' });
      throw err;
    }
  }
}
