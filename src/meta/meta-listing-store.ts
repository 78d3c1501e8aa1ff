import { isCachalotError, oneLine, type ErrorCode } from '../errors';
import type { CompleteRequest, CopyRequest, ListPage, ListRequest, ObjectInfo, ObjectStore, PutRequest, RangeRequest, UploadPartRequest, Written } from '../object/types';
import type { Logger } from '../obs/logger';
import type { MetaClient } from './meta-client';

/** Where a folder listing came from: meta's shared cache, S3 (meta passed over while it fails), or S3 after meta failed. */
export type ListingOutcome = 'meta' | 's3' | 'meta-failed';

export interface MetaListingStoreOptions {
  client: Pick<MetaClient, 'address' | 'list'>;
  /** The node's metadata TTL: the oldest listing it takes from meta (Infinity: any). */
  maxAgeMs: number;
  log: Logger;
  /** Bound of one page call to meta. */
  callTimeoutMs?: number;
  /** How long meta is passed over after it failed, so that listings do not each wait for a dead meta. */
  skipMs?: number;
  now?: () => number;
  onOutcome?: (outcome: ListingOutcome) => void;
}

const CALL_MS = 3000;
const SKIP_MS = 5000;
/** Failures of one listing, not of meta: the next listing asks meta again at once. */
const LISTING_FAILURES: ReadonlySet<ErrorCode> = new Set(['ListingExpired', 'ListingTooLarge']);

/**
 * A node's object store whose folder listings come from meta's shared listing
 * cache (one S3 listing per folder per TTL for the whole cluster); heads,
 * reads and writes stay on S3. A folder listing from its first page (a delimiter, no
 * token, no page size: what Namespace asks) is read from meta whole, all its
 * pages from one snapshot, and returned as one page, so a listing is never
 * half from meta and half from S3: if meta fails at any page (down, slow, a
 * token whose snapshot is gone, an S3 error meta met), the folder is listed
 * from S3 from its start, and what the node sees is what it would have seen
 * without meta. The continuation pages Namespace then asks carry S3's tokens
 * and go to S3, as does every other listing (a lookup's one-key probe).
 * After meta failed it is passed over for skipMs; it is asked again after.
 */
export class MetaListingStore implements ObjectStore {
  private skipUntil = 0;
  /** The code of meta's last failure, as logged; undefined while it serves. */
  private problem: string | undefined;
  private readonly now: () => number;

  constructor(
    private readonly inner: ObjectStore,
    private readonly options: MetaListingStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  get bucket(): string {
    return this.inner.bucket;
  }

  checkBucket(): Promise<void> {
    return this.inner.checkBucket();
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.head(key);
  }

  getRange(request: RangeRequest): Promise<Buffer[]> {
    return this.inner.getRange(request);
  }

  // Writes go straight to S3; a listing meta holds does not show them until it is made again.

  putObject(request: PutRequest): Promise<Written> {
    return this.inner.putObject(request);
  }

  createMultipartUpload(key: string): Promise<string> {
    return this.inner.createMultipartUpload(key);
  }

  uploadPart(request: UploadPartRequest): Promise<Written> {
    return this.inner.uploadPart(request);
  }

  completeMultipartUpload(request: CompleteRequest): Promise<Written> {
    return this.inner.completeMultipartUpload(request);
  }

  abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    return this.inner.abortMultipartUpload(key, uploadId);
  }

  deleteObject(key: string): Promise<void> {
    return this.inner.deleteObject(key);
  }

  copyObject(request: CopyRequest): Promise<Written> {
    return this.inner.copyObject(request);
  }

  /** A new metadata TTL (SIGHUP): the oldest listing taken from meta from now on. */
  setMaxAge(maxAgeMs: number): void {
    this.options.maxAgeMs = maxAgeMs;
  }

  async list(request: ListRequest): Promise<ListPage> {
    if (request.delimiter === undefined || request.continuationToken !== undefined || request.maxKeys !== undefined) return this.inner.list(request);
    if (this.now() < this.skipUntil) return this.fromS3(request, 's3');
    let listing: ListPage;
    try {
      listing = await this.fromMeta(request.prefix, request.delimiter);
    } catch (err) {
      const code = isCachalotError(err) ? err.code : 'Internal';
      const skip = !LISTING_FAILURES.has(code);
      if (skip) this.skipUntil = this.now() + (this.options.skipMs ?? SKIP_MS);
      if (code !== this.problem) {
        this.options.log.warn({ meta: this.options.client.address, prefix: request.prefix, err: oneLine(err) }, `meta could not serve a listing; listing S3 directly${skip ? ' until it can' : ''}`);
      }
      this.problem = code;
      return this.fromS3(request, 'meta-failed');
    }
    if (this.problem !== undefined) this.options.log.info({ meta: this.options.client.address }, 'meta serves listings again');
    this.problem = undefined;
    this.options.onOutcome?.('meta');
    return listing;
  }

  /** The whole folder from meta, as one page that says how old the listing is. */
  private async fromMeta(prefix: string, delimiter: string): Promise<ListPage> {
    // Whole milliseconds on the wire (a TTL may be "1.5ms"); -1 for a TTL of never.
    const maxAgeMs = Number.isFinite(this.options.maxAgeMs) ? Math.floor(this.options.maxAgeMs) : -1;
    const listing: ListPage = { objects: [], prefixes: [] };
    let continuationToken = '';
    do {
      const request = { bucket: this.inner.bucket, prefix, delimiter, continuationToken, maxKeys: 0, maxAgeMs };
      const page = await this.options.client.list(request, this.options.callTimeoutMs ?? CALL_MS);
      for (const o of page.objects) listing.objects.push({ key: o.key, size: o.size, etag: o.etag, lastModified: new Date(o.lastModifiedMs) });
      for (const p of page.prefixes) listing.prefixes.push(p);
      listing.ageMs = page.ageMs;
      continuationToken = page.continuationToken;
    } while (continuationToken);
    return listing;
  }

  private fromS3(request: ListRequest, outcome: ListingOutcome): Promise<ListPage> {
    this.options.onOutcome?.(outcome);
    return this.inner.list(request);
  }
}
