/**
 * The object layer's contract: the few S3 operations a read-path filesystem
 * needs. Implementations: S3 (aws-sdk), in-memory (tests), and wrappers that
 * retry or inject faults. Errors are CachalotError with a stable code.
 */
export interface ObjectInfo {
  key: string;
  size: number;
  /** Entity tag as S3 returns it, quotes included. Pins a version. */
  etag: string;
  lastModified: Date;
}

export interface ListRequest {
  prefix: string;
  delimiter?: string;
  continuationToken?: string;
  maxKeys?: number;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** Common prefixes, each ending with the delimiter. */
  prefixes: string[];
  /** Present when more pages follow. */
  continuationToken?: string;
  /** How long ago the listing was made, when it comes from a cache (meta's shared listing cache); absent: just now. */
  ageMs?: number;
}

export interface RangeRequest {
  key: string;
  /** Inclusive start, exclusive end, in bytes. */
  start: number;
  end: number;
  /** Fail with PreconditionFailed unless the object still has this ETag. */
  ifMatch?: string;
  signal?: AbortSignal;
  /** Where to write the bytes (exactly end - start long); a new buffer when absent. */
  into?: Buffer;
}

export interface ObjectStore {
  readonly bucket: string;
  /** Resolves when the bucket exists and the credentials may list it. */
  checkBucket(): Promise<void>;
  /** undefined when there is no such key. */
  head(key: string): Promise<ObjectInfo | undefined>;
  list(request: ListRequest): Promise<ListPage>;
  /** Exactly end - start bytes (in request.into when given), or a typed error. */
  getRange(request: RangeRequest): Promise<Buffer>;
}
