import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CachalotError } from '../errors';
import { fromS3Error } from './s3-errors';
import { S3SignedClient } from './s3-signed-client';
import type { ListPage, ListRequest, ObjectInfo, ObjectStore, RangeRequest } from './types';

export interface S3StoreOptions {
  bucket: string;
  endpoint?: string;
  region?: string;
  /** The sdk's default chain (env, profile, instance role) when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Socket-level timeout for one request, ms. */
  requestTimeoutMs: number;
  maxSockets: number;
}

/**
 * ObjectStore over S3: S3SignedClient for the read path's ranged GETs and
 * HEADs, the aws-sdk v3 for LIST and the bucket check. Retries are the
 * RetryingStore's job, so each request is one attempt.
 */
export class S3Store implements ObjectStore {
  readonly bucket: string;
  private readonly endpoint?: string;
  private readonly client: S3Client;
  private readonly signedClient: S3SignedClient;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.endpoint = options.endpoint;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region ?? 'us-east-1',
      credentials: options.credentials,
      // Custom endpoints (s3rver, MinIO, Ceph) want path-style addressing.
      forcePathStyle: options.endpoint !== undefined,
      maxAttempts: 1,
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
}
