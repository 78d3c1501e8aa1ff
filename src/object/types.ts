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
  /**
   * Where to write the bytes: buffers filled back to back, their lengths
   * summing to end - start (one GET may fill several blocks' own buffers);
   * one new buffer when absent.
   */
  into?: Buffer[];
  /**
   * With into: called with each buffer's index as soon as it is full, before
   * the GET settles, so that a block can be used while the next arrives.
   * Never called for bytes of a reply that could still be refused (a changed
   * ETag is found before any byte is written).
   */
  onFilled?: (index: number) => void;
}

export interface ObjectStore {
  readonly bucket: string;
  /** Resolves when the bucket exists and the credentials may list it. */
  checkBucket(): Promise<void>;
  /** undefined when there is no such key. */
  head(key: string): Promise<ObjectInfo | undefined>;
  list(request: ListRequest): Promise<ListPage>;
  /** Exactly end - start bytes: request.into when given, else one new buffer; or a typed error. */
  getRange(request: RangeRequest): Promise<Buffer[]>;
}
