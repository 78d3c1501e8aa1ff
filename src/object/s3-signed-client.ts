import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider, SourceData } from '@smithy/types';
import { CachalotError } from '../errors';
import { HttpRangeClient, type HttpOrigin, type HttpReply } from './http-range-client';
import { fromS3Error } from './s3-errors';
import type { ObjectInfo, RangeRequest } from './types';

export interface SignedClientOptions {
  bucket: string;
  /** Custom endpoint (path-style addressing); AWS's regional endpoint when absent. */
  endpoint?: string;
  region: string;
  credentials: AwsCredentialIdentityProvider;
  requestTimeoutMs: number;
  maxSockets: number;
}

/** SHA-256 of an empty body: a GET or HEAD signs its (absent) payload. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * The read path's S3 requests, GetObject with a Range and HeadObject, signed
 * with SigV4 (the sdk's own signer and credential chain) and sent through
 * HttpRangeClient, which reads a GET's body straight into the caller's
 * buffers. S3's error replies map to the same typed errors as the sdk's.
 */
export class S3SignedClient {
  private readonly http: HttpRangeClient;
  private readonly signer: SignatureV4;
  private readonly origin: HttpOrigin;
  private readonly host: string;
  private readonly pathPrefix: string;

  constructor(private readonly options: SignedClientOptions) {
    const { bucket, endpoint, region } = options;
    const virtualHost = endpoint === undefined && /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket);
    const url = new URL(endpoint ?? `https://${virtualHost ? `${bucket}.` : ''}s3.${region}.amazonaws.com`);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CachalotError('InvalidConfig', `endpoint ${endpoint}: only http:// and https:// are supported`);
    }
    this.origin = {
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
    };
    this.host = url.host;
    this.pathPrefix = `${url.pathname.replace(/\/$/, '')}${virtualHost ? '' : `/${encodeSegment(bucket)}`}`;
    this.http = new HttpRangeClient(this.origin, { maxSockets: options.maxSockets, timeoutMs: options.requestTimeoutMs });
    this.signer = new SignatureV4({
      credentials: options.credentials,
      region,
      service: 's3',
      sha256: Sha256,
      // S3 signs the path as sent, without the double encoding other services use.
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  async get(request: RangeRequest, into: Buffer[]): Promise<Buffer[]> {
    const { key, start, end, ifMatch, signal, onFilled } = request;
    const what = `get s3://${this.options.bucket}/${key} [${start}, ${end})`;
    try {
      const headers: Record<string, string> = { range: `bytes=${start}-${end - 1}` };
      if (ifMatch !== undefined) headers['if-match'] = ifMatch;
      // Some S3-compatible servers ignore If-Match: the ETag is checked here too, before a byte is taken.
      const check = (replyHeaders: Map<string, string>) => {
        const etag = replyHeaders.get('etag');
        if (ifMatch !== undefined && etag !== undefined && etag !== ifMatch) {
          throw new CachalotError('PreconditionFailed', `${what}: object changed (ETag ${etag}, expected ${ifMatch})`);
        }
      };
      const reply = await this.http.send({ ...(await this.signed('GET', key, headers)), into, onFilled, check, signal });
      if (reply.status < 200 || reply.status >= 300) throw s3ErrorOf(reply);
      return into;
    } catch (err) {
      throw fromS3Error(err, what);
    }
  }

  /** The object's size, ETag and mtime; undefined when there is no such key. */
  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const reply = await this.http.send({ method: 'HEAD', ...(await this.signed('HEAD', key, {})), into: [] });
      if (reply.status === 404) return undefined;
      if (reply.status < 200 || reply.status >= 300) throw s3ErrorOf(reply);
      const modified = reply.headers.get('last-modified');
      return {
        key,
        size: Number(reply.headers.get('content-length') ?? 0),
        etag: reply.headers.get('etag') ?? '',
        lastModified: modified === undefined ? new Date(0) : new Date(modified),
      };
    } catch (err) {
      throw fromS3Error(err, `head s3://${this.options.bucket}/${key}`);
    }
  }

  close(): void {
    this.http.close();
  }

  /** The path of key and the request's headers with host, payload hash and SigV4 signature added. */
  private async signed(method: 'GET' | 'HEAD', key: string, headers: Record<string, string>): Promise<{ path: string; headers: Record<string, string> }> {
    const path = `${this.pathPrefix}/${key.split('/').map(encodeSegment).join('/')}`;
    const request = { host: this.host, 'x-amz-content-sha256': EMPTY_SHA256, ...headers };
    const signed = await this.signer.sign({ method, protocol: this.origin.protocol, hostname: this.origin.hostname, port: this.origin.port, path, headers: request, query: {} });
    return { path, headers: signed.headers };
  }
}

/** The shape fromS3Error reads from the sdk's errors, built from S3's XML error body. */
function s3ErrorOf(reply: HttpReply): Error {
  const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(reply.text ?? '')?.[1];
  const code = field('Code');
  return Object.assign(new Error(field('Message') ?? `HTTP ${reply.status}`), {
    name: code ?? `HTTP ${reply.status}`,
    $metadata: { httpStatusCode: reply.status },
  });
}

/** RFC 3986 encoding of one path segment, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The signer's hash interface over node:crypto. */
class Sha256 {
  private readonly hash;

  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }

  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }

  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

function bytesOf(data: SourceData): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}
