import { createHash } from 'node:crypto';
import { CachalotError } from '../errors';
import { DEFAULT_COPY_POLICY, MIN_PART_SIZE, copyRanges, multipartEtag, unquoted, type CopyPolicy } from './multipart';
import { countsPerOperation } from './operations';
import type { CompleteRequest, CopyRequest, ListPage, ListRequest, ObjectInfo, ObjectStore, PutRequest, RangeRequest, UploadPartRequest, Written } from './types';
import { readBody } from './upload-body';

interface StoredObject {
  info: ObjectInfo;
  bytes: Buffer;
}

interface Upload {
  key: string;
  parts: Map<number, { bytes: Buffer; etag: string }>;
}

/**
 * An in-memory ObjectStore with S3's semantics: listings (sorted keys,
 * delimiter roll-up, paging) and writes (ETags as S3 makes them, multipart
 * uploads with S3's part rules and errors). For unit tests below FUSE; it
 * also serves as the reference the S3 implementation is compared with.
 */
export class MemoryStore implements ObjectStore {
  readonly bucket: string;
  private readonly objects = new Map<string, StoredObject>();
  private sortedKeys: string[] | undefined;
  private readonly uploads = new Map<string, Upload>();
  private uploadsMade = 0;
  /** Counts calls by operation, for tests that assert on request counts. */
  readonly calls = countsPerOperation();
  /** Bytes GETs have returned (a GET may load several blocks). */
  getBytes = 0;

  constructor(
    bucket = 'memory',
    private readonly copyPolicy: CopyPolicy = DEFAULT_COPY_POLICY,
  ) {
    this.bucket = bucket;
  }

  /** Seeds an object (not counted as a call); its ETag is its md5, as a PUT's. */
  put(key: string, bytes: Buffer | string, lastModified = new Date()): ObjectInfo {
    const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    return this.keep(key, data, md5Etag(data), lastModified);
  }

  delete(key: string): void {
    this.objects.delete(key);
    this.sortedKeys = undefined;
  }

  async checkBucket(): Promise<void> {}

  async head(key: string): Promise<ObjectInfo | undefined> {
    this.calls.head++;
    return this.objects.get(key)?.info;
  }

  async list(request: ListRequest): Promise<ListPage> {
    this.calls.list++;
    const { prefix, delimiter, continuationToken, maxKeys = 1000 } = request;
    const keys = (this.sortedKeys ??= [...this.objects.keys()].sort());
    const after = continuationToken ?? '';
    const page: ListPage = { objects: [], prefixes: [] };
    let count = 0;
    for (const key of keys) {
      if (!key.startsWith(prefix) || key <= after) continue;
      const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      const rollup = cut === -1 ? undefined : key.slice(0, cut + delimiter!.length);
      // Keys rolled into a prefix already on this page are not counted again.
      if (rollup !== undefined && page.prefixes[page.prefixes.length - 1] === rollup) continue;
      if (count === maxKeys) {
        page.continuationToken = lastOf(page);
        break;
      }
      if (rollup !== undefined) {
        page.prefixes.push(rollup);
      } else {
        page.objects.push(this.objects.get(key)!.info);
      }
      count++;
    }
    return page;
  }

  async getRange(request: RangeRequest): Promise<Buffer[]> {
    this.calls.get++;
    const stored = this.objects.get(request.key);
    if (!stored) throw new CachalotError('NotFound', `get ${request.key}: no such key`);
    if (request.ifMatch !== undefined && request.ifMatch !== stored.info.etag) {
      throw new CachalotError('PreconditionFailed', `get ${request.key}: object changed`);
    }
    if (request.end > stored.bytes.length) {
      throw new CachalotError('Internal', `get ${request.key}: range past end of object`);
    }
    const bytes = stored.bytes.subarray(request.start, request.end);
    this.getBytes += bytes.length;
    if (!request.into) return [Buffer.from(bytes)];
    let at = 0;
    request.into.forEach((part, index) => {
      at += bytes.copy(part, 0, at);
      request.onFilled?.(index);
    });
    return request.into;
  }

  async putObject({ key, body }: PutRequest): Promise<Written> {
    this.calls.put++;
    const bytes = await readBody(body);
    return { etag: this.keep(key, bytes, md5Etag(bytes)).etag };
  }

  async createMultipartUpload(key: string): Promise<string> {
    this.calls['create-upload']++;
    const uploadId = `upload-${++this.uploadsMade}`;
    this.uploads.set(uploadId, { key, parts: new Map() });
    return uploadId;
  }

  async uploadPart({ key, uploadId, partNumber, body }: UploadPartRequest): Promise<Written> {
    this.calls['upload-part']++;
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
      throw new CachalotError('Internal', `upload part ${partNumber} of ${key}: part numbers go from 1 to 10,000`);
    }
    const bytes = await readBody(body);
    const etag = md5Etag(bytes);
    this.uploadOf(key, uploadId, `upload part ${partNumber} of ${key}`).parts.set(partNumber, { bytes, etag });
    return { etag };
  }

  async completeMultipartUpload({ key, uploadId, parts }: CompleteRequest): Promise<Written> {
    this.calls['complete-upload']++;
    const what = `complete upload of ${key}`;
    const upload = this.uploadOf(key, uploadId, what);
    // S3 answers an empty part list MalformedXML, which is no code of ours.
    if (parts.length === 0) throw new CachalotError('Internal', `${what}: no parts`);
    const chosen = parts.map((part, index) => {
      if (index > 0 && part.partNumber <= parts[index - 1].partNumber) throw new CachalotError('InvalidPartOrder', `${what}: part numbers do not ascend`);
      const stored = upload.parts.get(part.partNumber);
      if (!stored || unquoted(stored.etag) !== unquoted(part.etag)) throw new CachalotError('InvalidPart', `${what}: no part ${part.partNumber} with ETag ${part.etag}`);
      return stored;
    });
    const small = chosen.findIndex((part, index) => index < chosen.length - 1 && part.bytes.length < MIN_PART_SIZE);
    if (small !== -1) throw new CachalotError('EntityTooSmall', `${what}: part ${parts[small].partNumber} is under 5 MiB and not the last`);
    this.uploads.delete(uploadId);
    const bytes = Buffer.concat(chosen.map((part) => part.bytes));
    return { etag: this.keep(key, bytes, multipartEtag(chosen.map((part) => part.etag))).etag };
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    this.calls['abort-upload']++;
    if (this.uploads.get(uploadId)?.key === key) this.uploads.delete(uploadId);
  }

  async deleteObject(key: string): Promise<void> {
    this.calls.delete++;
    this.delete(key);
  }

  /** As S3 copies: one CopyObject (the ETag the bytes' md5), or above copyPolicy.single part copies (a multipart ETag). */
  async copyObject({ from, to, size, ifMatch }: CopyRequest): Promise<Written> {
    this.calls.copy++;
    const source = this.objects.get(from);
    if (!source) throw new CachalotError('NotFound', `copy ${from}: no such key`);
    if (ifMatch !== undefined && ifMatch !== source.info.etag) throw new CachalotError('PreconditionFailed', `copy ${from}: object changed`);
    const bytes = source.bytes;
    const etag =
      size > this.copyPolicy.single
        ? multipartEtag(copyRanges(bytes.length, this.copyPolicy.partSize).map(({ start, end }) => md5Etag(bytes.subarray(start, end))))
        : md5Etag(bytes);
    return { etag: this.keep(to, bytes, etag).etag };
  }

  /** The upload, if it is still open and is of this key; S3 answers NoSuchUpload otherwise. */
  private uploadOf(key: string, uploadId: string, what: string): Upload {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.key !== key) throw new CachalotError('NoSuchUpload', `${what}: no upload ${uploadId}`);
    return upload;
  }

  private keep(key: string, bytes: Buffer, etag: string, lastModified = new Date()): ObjectInfo {
    const info = { key, size: bytes.length, etag, lastModified };
    this.objects.set(key, { info, bytes });
    this.sortedKeys = undefined;
    return info;
  }
}

function md5Etag(bytes: Buffer): string {
  return `"${createHash('md5').update(bytes).digest('hex')}"`;
}

/** The greatest key or prefix on a page: where the next page starts after. */
function lastOf(page: ListPage): string {
  const lastKey = page.objects[page.objects.length - 1]?.key ?? '';
  const lastPrefix = page.prefixes[page.prefixes.length - 1] ?? '';
  // A prefix "a/" stands for every key under it: continue past all of them.
  return lastKey > lastPrefix ? lastKey : lastPrefix + '\uffff';
}
