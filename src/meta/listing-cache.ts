import { randomBytes } from 'node:crypto';
import { CachalotError, isCachalotError, oneLine } from '../errors';
import type { ObjectInfo, ObjectStore } from '../object/types';
import type { Logger } from '../obs/logger';
import { ListingSnapshot, type ListingEntry } from './listing-snapshot';
import type { ListedObject, ListingPage, ListingRequest } from './types';

export interface ListingCacheOptions {
  /** The store of a bucket (made on first use by the caller, kept by it). */
  stores: (bucket: string) => ObjectStore;
  /** Meta's own bound on the age of a listing it serves, whatever the asker accepts; Infinity: none. */
  ttlMs: number;
  /** Bound on the entries held over all folders; each snapshot counts one more. */
  maxEntries: number;
  log: Logger;
  now?: () => number;
  /** Each folder listed from S3 (a new snapshot), for metrics. */
  onListed?: () => void;
}

/** The most entries in one page, as S3's own pages. */
export const PAGE_ENTRIES = 1000;
/**
 * A snapshot no first page may start on any more (a newer one replaced it, or
 * it passed meta's TTL) is kept this long after its last read, for the askers
 * still paging through it (each page call has a deadline of a few seconds).
 */
const READER_GRACE_MS = 10_000;

/**
 * Meta's shared listing cache. A folder (bucket, prefix, delimiter) is listed
 * from S3 once, all its pages, for every asker at once; askers then page
 * through that snapshot with meta's own continuation tokens (instance,
 * snapshot, offset), so page 2 comes from the same listing as page 1 even if
 * the folder was listed again meanwhile. A listing is served while younger
 * than both the asker's bound (its metadata TTL) and meta's TTL; an older one
 * is listed again. Memory is bounded: past maxEntries the least recently read
 * finished snapshots are dropped, and a folder that alone does not fit fails
 * with ListingTooLarge (remembered like a listing, so S3 is not asked again
 * for it within the TTL). A failed S3 listing is not kept.
 */
export class ListingCache {
  /** The newest snapshot of each folder: the one first pages are served from. */
  private readonly latest = new Map<string, ListingSnapshot>();
  /** Every snapshot pages may come from, least recently read first. */
  private readonly snapshots = new Map<number, ListingSnapshot>();
  /** Tells this process's tokens from a previous meta's. */
  private readonly instance = randomBytes(6).toString('hex');
  private nextId = 1;
  private held = 0;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: ListingCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  async page(request: ListingRequest): Promise<ListingPage> {
    const folder = folderKey(request);
    const { snapshot, offset } = request.continuationToken
      ? this.resume(request.continuationToken, folder)
      : { snapshot: this.snapshotFor(request, folder), offset: 0 };
    const max = request.maxKeys > 0 ? Math.min(request.maxKeys, PAGE_ENTRIES) : PAGE_ENTRIES;
    const entries = await snapshot.read(offset, max);
    this.touch(snapshot);
    const next = offset + entries.length;
    const more = snapshot.underWay || next < snapshot.entries.length;
    return {
      objects: entries.filter((e): e is ListedObject => typeof e !== 'string'),
      prefixes: entries.filter((e): e is string => typeof e === 'string'),
      continuationToken: more ? `${this.instance}.${snapshot.id}.${next}` : '',
      ageMs: snapshot.finishedAt === undefined ? 0 : this.now() - snapshot.finishedAt,
    };
  }

  /**
   * Drops the snapshots no first page may use and no asker has read for a
   * while, and past meta's TTL the newest ones too; the cap alone would keep
   * them until other listings need the room.
   */
  sweep(): void {
    const now = this.now();
    for (const snapshot of this.snapshots.values()) {
      if (!snapshot.underWay && !this.servesFirstPages(snapshot, now) && now - snapshot.lastReadAt > READER_GRACE_MS) this.drop(snapshot);
    }
  }

  /**
   * A node changed these folders of the bucket in S3: no new asker starts on
   * their listings (delimiter "/", as nodes list), the next one lists S3
   * again. Askers paging through a forgotten listing finish it, as they
   * would one replaced by a newer listing, and the sweep lets it go.
   */
  forget(bucket: string, prefixes: readonly string[]): void {
    for (const prefix of prefixes) this.latest.delete(folderKey({ bucket, delimiter: '/', prefix }));
  }

  /** Entries held over all snapshots (bounded by maxEntries). */
  get heldEntries(): number {
    return this.held;
  }

  /** Listings under way end, their askers get an error; nothing is listed any more. */
  close(): void {
    this.closed = true;
    for (const snapshot of this.snapshots.values()) {
      if (snapshot.underWay) snapshot.fail(new CachalotError('EndpointUnreachable', 'meta is stopping'), this.now());
    }
  }

  /** The newest snapshot of the folder if the asker may have it (or it is under way), else a new listing. */
  private snapshotFor(request: ListingRequest, folder: string): ListingSnapshot {
    const current = this.latest.get(folder);
    const maxAgeMs = Math.min(this.options.ttlMs, request.maxAgeMs < 0 ? Infinity : request.maxAgeMs);
    if (current && (current.underWay || this.now() - current.finishedAt! <= maxAgeMs)) return current;
    if (this.closed) throw new CachalotError('EndpointUnreachable', 'meta is stopping');
    const snapshot = new ListingSnapshot(this.nextId++, folder, this.now());
    this.options.onListed?.();
    this.latest.set(folder, snapshot);
    this.snapshots.set(snapshot.id, snapshot);
    this.held++;
    void this.fill(snapshot, request);
    return snapshot;
  }

  private resume(token: string, folder: string): { snapshot: ListingSnapshot; offset: number } {
    const [instance, id, offset] = token.split('.');
    const snapshot = instance === this.instance ? this.snapshots.get(Number(id)) : undefined;
    if (!snapshot || snapshot.folder !== folder || !/^\d+$/.test(offset ?? '')) {
      throw new CachalotError('ListingExpired', 'the listing this token belongs to is gone (dropped, or meta restarted); list the folder again');
    }
    return { snapshot, offset: Number(offset) };
  }

  /** Lists the whole folder from S3 into the snapshot, page by page. */
  private async fill(snapshot: ListingSnapshot, { bucket, prefix, delimiter }: ListingRequest): Promise<void> {
    const started = this.now();
    try {
      const store = this.options.stores(bucket);
      let continuationToken: string | undefined;
      do {
        const page = await store.list({ prefix, delimiter, continuationToken });
        // Closed meanwhile: the askers were told already.
        if (!snapshot.underWay) return;
        const entries: ListingEntry[] = [...page.objects.map(listed), ...page.prefixes];
        snapshot.append(entries);
        this.held += entries.length;
        this.makeRoom(snapshot);
        continuationToken = page.continuationToken;
      } while (continuationToken);
      snapshot.complete(this.now());
      this.options.log.debug({ bucket, prefix, entries: snapshot.entries.length, ms: this.now() - started }, 'listed a folder from S3');
    } catch (err) {
      // Closed meanwhile: the askers were told already.
      if (!snapshot.underWay) return;
      const failure = isCachalotError(err) ? err : new CachalotError('Internal', oneLine(err), { cause: err });
      this.options.log.warn({ bucket, prefix, code: failure.code, err: oneLine(failure) }, 'S3 listing failed');
      // A folder too large for the cache is remembered as such (one entry), so S3 is not asked again for it within the TTL.
      if (this.aloneTooLarge(snapshot)) this.held -= snapshot.entries.length;
      else this.drop(snapshot);
      snapshot.fail(failure, this.now());
    }
  }

  /** Drops the least recently read finished snapshots until the entries fit; throws when the growing listing cannot fit. */
  private makeRoom(growing: ListingSnapshot): void {
    const max = this.options.maxEntries;
    if (this.aloneTooLarge(growing)) throw new CachalotError('ListingTooLarge', `folder has more than ${max - 1} entries, the bound of meta's listing cache (--listing-entries)`);
    for (const snapshot of this.snapshots.values()) {
      if (this.held <= max) return;
      if (!snapshot.underWay) this.drop(snapshot);
    }
    if (this.held > max) throw new CachalotError('ListingTooLarge', `meta's listing cache is full (${max} entries) of listings under way`);
  }

  private aloneTooLarge(snapshot: ListingSnapshot): boolean {
    return snapshot.entries.length + 1 > this.options.maxEntries;
  }

  /** May this snapshot start a new asker's listing? */
  private servesFirstPages(snapshot: ListingSnapshot, now: number): boolean {
    return this.latest.get(snapshot.folder) === snapshot && now - snapshot.finishedAt! <= this.options.ttlMs;
  }

  /** Marks a read (LRU order is Map order); a snapshot dropped while its asker waited stays dropped. */
  private touch(snapshot: ListingSnapshot): void {
    if (!this.snapshots.delete(snapshot.id)) return;
    this.snapshots.set(snapshot.id, snapshot);
    snapshot.lastReadAt = this.now();
  }

  private drop(snapshot: ListingSnapshot): void {
    if (!this.snapshots.delete(snapshot.id)) return;
    this.held -= snapshot.entries.length + 1;
    if (this.latest.get(snapshot.folder) === snapshot) this.latest.delete(snapshot.folder);
  }
}

function folderKey(request: Pick<ListingRequest, 'bucket' | 'delimiter' | 'prefix'>): string {
  return JSON.stringify([request.bucket, request.delimiter, request.prefix]);
}

function listed(info: ObjectInfo): ListedObject {
  return { key: info.key, size: info.size, etag: info.etag, lastModifiedMs: info.lastModified.getTime() };
}
