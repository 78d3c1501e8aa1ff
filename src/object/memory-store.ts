import { createHash } from 'node:crypto';
import { CachalotError } from '../errors';
import type { ListPage, ListRequest, ObjectInfo, ObjectStore, RangeRequest } from './types';

interface StoredObject {
  info: ObjectInfo;
  bytes: Buffer;
}

/**
 * An in-memory ObjectStore with S3's listing semantics (sorted keys,
 * delimiter roll-up, paging). For unit tests below FUSE; it also serves as the
 * reference the S3 implementation is compared with.
 */
export class MemoryStore implements ObjectStore {
  readonly bucket: string;
  private readonly objects = new Map<string, StoredObject>();
  private sortedKeys: string[] | undefined;
  /** Counts calls by operation, for tests that assert on request counts. */
  readonly calls = { head: 0, list: 0, get: 0 };
  /** Bytes GETs have returned (a GET may load several blocks). */
  getBytes = 0;

  constructor(bucket = 'memory') {
    this.bucket = bucket;
  }

  put(key: string, bytes: Buffer | string, lastModified = new Date()): ObjectInfo {
    const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    const etag = `"${createHash('md5').update(data).digest('hex')}"`;
    const info = { key, size: data.length, etag, lastModified };
    this.objects.set(key, { info, bytes: data });
    this.sortedKeys = undefined;
    return info;
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
}

/** The greatest key or prefix on a page: where the next page starts after. */
function lastOf(page: ListPage): string {
  const lastKey = page.objects[page.objects.length - 1]?.key ?? '';
  const lastPrefix = page.prefixes[page.prefixes.length - 1] ?? '';
  // A prefix "a/" stands for every key under it: continue past all of them.
  return lastKey > lastPrefix ? lastKey : lastPrefix + '\uffff';
}
