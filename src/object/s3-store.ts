import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Readable } from 'node:stream';
import { CachalotError, isCachalotError } from '../errors';
import { DEFAULT_COPY_POLICY, type CopyPolicy } from './multipart';
import { copyInParts, type PartCopy } from './part-copy';
import { fromS3Error } from './s3-errors';
import { S3SignedClient } from './s3-signed-client';
import type { CompleteRequest, CopyRequest, ListPage, ListRequest, ObjectInfo, ObjectStore, PutRequest, RangeRequest, UploadBody, UploadPartRequest, Written } from './types';
import { bodyLength, openBody } from './upload-body';

export interface S3StoreOptions {
  bucket: string;
  endpoint?: string;
  region?: string;
  /** The sdk's default chain (env, profile, instance role) when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Socket-level timeout for one request, ms. */
  requestTimeoutMs: number;
  maxSockets: number;
  /** Where copies go multipart; S3's limits when absent (tests make it small). */
  copyPolicy?: CopyPolicy;
}

/**
 * ObjectStore over S3: S3SignedClient for the read path's ranged GETs and
 * HEADs, the aws-sdk v3 for LIST, the bucket check and the writes. Retries
 * are the RetryingStore's job, so each request is one attempt. S3 may answer
 * a Complete or a copy with 200 and its error in the body; the sdk makes that
 * an error (a 503), which is retried.
 */
export class S3Store implements ObjectStore {
  readonly bucket: string;
  private readonly endpoint?: string;
  private readonly client: S3Client;
  private readonly signedClient: S3SignedClient;
  private readonly copyPolicy: CopyPolicy;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.endpoint = options.endpoint;
    this.copyPolicy = options.copyPolicy ?? DEFAULT_COPY_POLICY;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region ?? 'us-east-1',
      credentials: options.credentials,
      // Custom endpoints (s3rver, MinIO, Ceph) want path-style addressing.
      forcePathStyle: options.endpoint !== undefined,
      maxAttempts: 1,
      // Checksums only where S3 demands them (none of our operations): by
      // default the sdk sends bodies aws-chunked with a CRC trailer, which
      // s3rver (and some other S3-compatible servers) store framing and all.
      // Trade-off: over plain http nothing end to end checks a body's bytes;
      // over https TLS does.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      requestHandler: new NodeHttpHandler({
        httpAgent: new Agent(agentOptions),
        httpsAgent: new HttpsAgent(agentOptions),
        connectionTimeout: Math.min(options.requestTimeoutMs, 5000),
        requestTimeout: options.requestTimeoutMs,
      }),
    });
    this.signedClient = new S3SignedClient({
      bucket: options.bucket,
      endpoint: options.endpoint,
      region: options.region ?? 'us-east-1',
      credentials: this.client.config.credentials,
      requestTimeoutMs: options.requestTimeoutMs,
      maxSockets: options.maxSockets,
    });
  }

  async checkBucket(): Promise<void> {
    const what = `bucket "${this.bucket}"${this.endpoint ? ` at ${this.endpoint}` : ''}`;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const e = fromS3Error(err, what);
      // HeadBucket has no body, so a 404 only says "not found": name it.
      if (e.code === 'NotFound') throw new CachalotError('NoSuchBucket', `${what}: bucket does not exist`, { cause: err });
      throw e;
    }
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.signedClient.head(key);
  }

  async list(request: ListRequest): Promise<ListPage> {
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: request.prefix,
          Delimiter: request.delimiter,
          ContinuationToken: request.continuationToken,
          MaxKeys: request.maxKeys,
        }),
      );
      return {
        objects: (out.Contents ?? []).map((o) => ({
          key: o.Key ?? '',
          size: o.Size ?? 0,
          etag: o.ETag ?? '',
          lastModified: o.LastModified ?? new Date(0),
        })),
        prefixes: (out.CommonPrefixes ?? []).map((p) => p.Prefix ?? '').filter((p) => p !== ''),
        continuationToken: out.IsTruncated ? out.NextContinuationToken : undefined,
      };
    } catch (err) {
      throw fromS3Error(err, `list s3://${this.bucket}/${request.prefix}`);
    }
  }

  async getRange(request: RangeRequest): Promise<Buffer[]> {
    const length = request.end - request.start;
    if (length <= 0) return [Buffer.alloc(0)];
    return this.signedClient.get(request, request.into ?? [Buffer.allocUnsafe(length)]);
  }

  async putObject({ key, body }: PutRequest): Promise<Written> {
    const what = `put ${this.uri(key)}`;
    const out = await this.withBody(body, what, (payload) => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, ...payload })));
    return { etag: etagOf(out.ETag, what) };
  }

  async createMultipartUpload(key: string): Promise<string> {
    const what = `create upload ${this.uri(key)}`;
    const out = await this.send(what, () => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key })));
    if (!out.UploadId) throw new CachalotError('BadResponse', `${what}: no upload id in the answer`);
    return out.UploadId;
  }

  async uploadPart({ key, uploadId, partNumber, body }: UploadPartRequest): Promise<Written> {
    const what = `upload part ${partNumber} of ${this.uri(key)}`;
    const out = await this.withBody(body, what, (payload) =>
      this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, ...payload })),
    );
    return { etag: etagOf(out.ETag, what) };
  }

  async completeMultipartUpload({ key, uploadId, parts }: CompleteRequest): Promise<Written> {
    const what = `complete upload ${this.uri(key)}`;
    const out = await this.send(what, () =>
      this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      ),
    );
    return { etag: etagOf(out.ETag, what) };
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.send(`abort upload ${this.uri(key)}`, () => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })));
    } catch (err) {
      // Gone already (aborted, completed, expired): what an abort wants.
      if (!isCachalotError(err, 'NoSuchUpload')) throw err;
    }
  }

  async deleteObject(key: string): Promise<void> {
    // S3 answers 204 for a key that is not there, too.
    await this.send(`delete ${this.uri(key)}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  async copyObject(request: CopyRequest): Promise<Written> {
    if (request.size > this.copyPolicy.single) return copyInParts(this, request, this.copyPolicy.partSize, (part) => this.copyPart(part));
    const what = `copy ${this.uri(request.from)} to ${this.uri(request.to)}`;
    const out = await this.send(what, () =>
      this.client.send(
        new CopyObjectCommand({ Bucket: this.bucket, Key: request.to, CopySource: this.copySource(request.from), CopySourceIfMatch: request.ifMatch }),
      ),
    );
    return { etag: etagOf(out.CopyObjectResult?.ETag, what) };
  }

  private async copyPart(part: PartCopy): Promise<Written> {
    const what = `copy bytes ${part.start}-${part.end} of ${this.uri(part.from)} as part ${part.partNumber} of ${this.uri(part.to)}`;
    const out = await this.send(what, () =>
      this.client.send(
        new UploadPartCopyCommand({
          Bucket: this.bucket,
          Key: part.to,
          UploadId: part.uploadId,
          PartNumber: part.partNumber,
          CopySource: this.copySource(part.from),
          CopySourceRange: `bytes=${part.start}-${part.end - 1}`,
          CopySourceIfMatch: part.ifMatch,
        }),
      ),
    );
    return { etag: etagOf(out.CopyPartResult?.ETag, what) };
  }

  /** x-amz-copy-source: the bucket and the key, URL-encoded (the sdk sends it as given). */
  private copySource(key: string): string {
    return `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** One request with a body opened for it (a file range is read anew each time), its stream closed once it settles. */
  private async withBody<T>(body: UploadBody, what: string, send: (payload: { Body: Buffer | Readable; ContentLength: number }) => Promise<T>): Promise<T> {
    const payload = await openBody(body);
    try {
      return await this.send(what, () => send({ Body: payload, ContentLength: bodyLength(body) }));
    } finally {
      if (!Buffer.isBuffer(payload)) payload.destroy();
    }
  }

  private async send<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw fromS3Error(err, what);
    }
  }

  private uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }
}

function etagOf(etag: string | undefined, what: string): string {
  if (!etag) throw new CachalotError('BadResponse', `${what}: no ETag in the answer`);
  return etag;
}
