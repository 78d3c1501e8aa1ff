/**
 * The object layer's contract: the few S3 operations a filesystem over a
 * bucket needs. Implementations: S3 (aws-sdk), in-memory (tests), and
 * wrappers that retry or inject faults. Errors are CachalotError with a
 * stable code.
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

/**
 * The bytes of an upload: a buffer, or a range of a local file, read anew
 * for every attempt (so a retry sends them again without holding them in
 * memory).
 */
export type UploadBody = Buffer | { path: string; start: number; end: number };

export interface PutRequest {
  key: string;
  body: UploadBody;
}

export interface UploadPartRequest {
  key: string;
  uploadId: string;
  /** 1 to 10,000. */
  partNumber: number;
  body: UploadBody;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
}

export interface CompleteRequest {
  key: string;
  uploadId: string;
  /** In ascending part number order. */
  parts: CompletedPart[];
}

/** What S3 says of an object it now holds. */
export interface Written {
  etag: string;
}

export interface CopyRequest {
  from: string;
  to: string;
  /** The source's size: above 5 GiB the copy goes as a multipart upload of part copies. */
  size: number;
  /** Fail with PreconditionFailed unless the source still has this ETag. */
  ifMatch?: string;
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
  /** One PUT of a whole object (up to 5 GiB). */
  putObject(request: PutRequest): Promise<Written>;
  /** Starts a multipart upload; its id. */
  createMultipartUpload(key: string): Promise<string>;
  /** One part (5 MiB to 5 GiB, but the last): its ETag. */
  uploadPart(request: UploadPartRequest): Promise<Written>;
  /** The object appears under its key, whole, only now. */
  completeMultipartUpload(request: CompleteRequest): Promise<Written>;
  /** Drops an upload and its parts; an upload already gone (NoSuchUpload) is no error. */
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  /** Deletes the key; a key that is not there is no error. */
  deleteObject(key: string): Promise<void>;
  /** Server-side copy (CopyObject; above 5 GiB, UploadPartCopy parts). */
  copyObject(request: CopyRequest): Promise<Written>;
}
