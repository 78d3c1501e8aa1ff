import type { Logger } from '../obs/logger';
import { SingleFlight } from '../block/single-flight';
import type { ObjectInfo, ObjectStore } from '../object/types';
import { invalidNameReason } from './file-names';
import { VfsError } from './types';

export interface FileNode {
  kind: 'file';
  key: string;
  size: number;
  etag: string;
  mtime: Date;
}

export interface DirNode {
  kind: 'dir';
}

export type Node = FileNode | DirNode;

export interface NamespaceOptions {
  /** '' or a folder prefix ending with '/'. */
  rootPrefix: string;
  ttlMs: number;
  negativeTtlMs: number;
  /** Bound on cached names over all listings and lookups. */
  maxCachedNames?: number;
  log: Logger;
  onSkippedKey?: () => void;
  now?: () => number;
}

interface Listing {
  entries: Map<string, Node>;
  expiresAt: number;
}

interface Lookup {
  node: Node | undefined;
  expiresAt: number;
}

export const DIR: DirNode = { kind: 'dir' };
/** A listing is paged; a folder this large is not a filesystem any more. */
const MAX_LIST_PAGES = 100_000;
/** Targeted lookups in one folder after which the folder is listed instead. */
const LIST_AFTER_LOOKUPS = 2;

/**
 * Maps paths to S3 keys: prefixes are directories (delimiter '/'). Listings
 * and lookups are cached for the metadata TTL, misses for the shorter negative
 * TTL. A lookup inside a listed folder is answered from the listing, so `find`
 * or `ls -l` lists each folder once instead of asking S3 per name.
 */
export class Namespace {
  private readonly listings = new Map<string, Listing>();
  private readonly lookups = new Map<string, Lookup>();
  private readonly listFlights = new SingleFlight<Listing>();
  private readonly lookupFlights = new SingleFlight<Node | undefined>();
  private readonly warned = new Set<string>();
  /** Targeted lookups per folder since its last listing (bounded: cleared when large). */
  private readonly lookupsPerFolder = new Map<string, number>();
  private cachedNames = 0;
  private readonly now: () => number;
  /**
   * Changes other nodes made, counted: a listing that was being fetched when
   * its folder changed may predate the change, and is used once but not kept.
   */
  private changes = 0;
  private readonly changedAt = new Map<string, number>();
  /** The count at which every folder last counted as changed (forgetAll, or the map above cleared). */
  private allChangedAt = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: NamespaceOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** New TTLs (SIGHUP); entries cached already keep the expiry they were given. */
  setTtls(ttlMs: number, negativeTtlMs: number): void {
    this.options.ttlMs = ttlMs;
    this.options.negativeTtlMs = negativeTtlMs;
  }

  async lookup(path: string): Promise<Node | undefined> {
    if (path === '/') return DIR;
    const { parent, name } = splitPath(path);
    if (invalidNameReason(name)) return undefined;
    const listing = this.listings.get(parent);
    if (listing && listing.expiresAt > this.now()) return listing.entries.get(name);
    const cached = this.lookups.get(path);
    if (cached && cached.expiresAt > this.now()) return cached.node;
    if (this.shouldListParent(parent)) return (await this.fetchListing(parent)).entries.get(name);
    return this.lookupFlights.run(path, () => this.lookupRemote(path));
  }

  /**
   * One name in a folder is looked up on its own (HEAD + one-key LIST); from
   * the second name on, the folder is listed once and answers the rest. Reading
   * a folder of small files then costs one LIST per 1,000 names instead of two
   * requests per name, while `cat` of a single file in a huge folder stays cheap.
   */
  private shouldListParent(parent: string): boolean {
    if (this.listFlights.pending(parent)) return true;
    const seen = (this.lookupsPerFolder.get(parent) ?? 0) + 1;
    this.lookupsPerFolder.set(parent, seen);
    if (this.lookupsPerFolder.size > 10_000) this.lookupsPerFolder.clear();
    return seen >= LIST_AFTER_LOOKUPS;
  }

  /** The entries of a folder; ENOENT or ENOTDIR when path is not one. */
  async list(path: string): Promise<Map<string, Node>> {
    const node = await this.lookup(path);
    if (!node) throw new VfsError('ENOENT', `${path}: no such directory`);
    if (node.kind !== 'dir') throw new VfsError('ENOTDIR', `${path}: not a directory`);
    const listing = this.listings.get(path);
    if (listing && listing.expiresAt > this.now()) return listing.entries;
    return (await this.fetchListing(path)).entries;
  }

  /** Lists a folder from S3; concurrent askers share one listing. */
  private fetchListing(path: string): Promise<Listing> {
    return this.listFlights.run(path, () => this.listRemote(path));
  }

  /**
   * What this node itself just did to a path (stored a file, made a folder,
   * deleted one or the other): known at once, for the TTL, by lookups and by
   * the parent folder's listing if it is cached.
   */
  record(path: string, node: Node | undefined): void {
    this.remember(this.lookups, path, { node, expiresAt: this.now() + (node ? this.options.ttlMs : this.options.negativeTtlMs) });
    const { parent, name } = splitPath(path);
    const listing = this.listings.get(parent);
    if (!listing) return;
    if (node) {
      if (!listing.entries.has(name)) this.cachedNames++;
      listing.entries.set(name, node);
    } else if (listing.entries.delete(name)) {
      this.cachedNames--;
    }
  }

  /**
   * Another node changed what the folder with this key prefix holds ("" or
   * the root prefix: the mount's root): its listing, and what was looked up
   * in it, are asked of S3 again. Folders outside this mount are ignored.
   */
  folderChanged(folderKey: string): void {
    const { rootPrefix } = this.options;
    if (!folderKey.startsWith(rootPrefix)) return;
    const path = folderKey === rootPrefix ? '/' : '/' + folderKey.slice(rootPrefix.length, -1);
    this.changedAt.set(path, ++this.changes);
    if (this.changedAt.size > 10_000) {
      this.changedAt.clear();
      this.allChangedAt = this.changes;
    }
    this.forget(this.listings, path);
    const inside = path === '/' ? '/' : path + '/';
    for (const known of [...this.lookups.keys()]) if (known.startsWith(inside) && !known.slice(inside.length).includes('/')) this.forget(this.lookups, known);
  }

  /** Forgets every listing and lookup: changes may have been missed (the cluster's change stream was interrupted). */
  forgetAll(): void {
    this.changedAt.clear();
    this.allChangedAt = ++this.changes;
    this.listings.clear();
    this.lookups.clear();
    this.cachedNames = 0;
  }

  /** The key of a path, and of the folder marker ("dir/") of a folder path. */
  keyOf(path: string): string {
    return this.options.rootPrefix + path.slice(1);
  }

  /** Forgets what is known of one path, e.g. after its object changed under a reader. */
  invalidate(path: string): void {
    this.forget(this.lookups, path);
    this.forget(this.listings, splitPath(path).parent);
  }

  private async lookupRemote(path: string): Promise<Node | undefined> {
    const key = this.keyOf(path);
    // A folder shadows a file of the same name, so both questions go out at once.
    const [file, children] = await Promise.all([
      this.store.head(key),
      this.store.list({ prefix: key + '/', maxKeys: 1 }),
    ]);
    let node: Node | undefined;
    if (children.objects.length > 0 || children.prefixes.length > 0) {
      if (file) this.warnOnce(key, 'object is shadowed by a folder of the same name; the folder is shown');
      node = DIR;
    } else if (file) {
      node = fileNode(file);
    }
    this.remember(this.lookups, path, { node, expiresAt: this.now() + (node ? this.options.ttlMs : this.options.negativeTtlMs) });
    return node;
  }

  private async listRemote(path: string): Promise<Listing> {
    const startedAt = this.changes;
    const prefix = path === '/' ? this.options.rootPrefix : this.keyOf(path) + '/';
    const entries = new Map<string, Node>();
    let continuationToken: string | undefined;
    let ageMs = 0;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const result = await this.store.list({ prefix, delimiter: '/', continuationToken });
      ageMs = Math.max(ageMs, result.ageMs ?? 0);
      for (const object of result.objects) {
        const name = object.key.slice(prefix.length);
        if (name === '') continue; // the folder's own marker object "dir/"
        if (!this.acceptName(name, object.key)) continue;
        if (entries.get(name)?.kind === 'dir') {
          this.warnOnce(object.key, 'object is shadowed by a folder of the same name; the folder is shown');
          continue;
        }
        entries.set(name, fileNode(object));
      }
      for (const folder of result.prefixes) {
        const name = folder.slice(prefix.length, -1);
        if (!this.acceptName(name, folder)) continue;
        if (entries.get(name)?.kind === 'file') {
          this.warnOnce(prefix + name, 'object is shadowed by a folder of the same name; the folder is shown');
        }
        entries.set(name, DIR);
      }
      continuationToken = result.continuationToken;
      if (!continuationToken) break;
    }
    // A listing from a cache is trusted only for what is left of the TTL: names are never older than the TTL allows.
    const listing = { entries, expiresAt: this.now() + this.options.ttlMs - ageMs };
    this.lookupsPerFolder.delete(path);
    // Changed meanwhile (forgetAll counts for every folder): this listing may not show it.
    const changed = Math.max(this.changedAt.get(path) ?? 0, this.allChangedAt) > startedAt;
    if (!changed) this.remember(this.listings, path, listing);
    return listing;
  }

  private acceptName(name: string, key: string): boolean {
    const reason = invalidNameReason(name);
    if (reason === undefined) return true;
    this.options.onSkippedKey?.();
    this.warnOnce(key, `key skipped: not a valid file name (${reason})`);
    return false;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.log.warn({ key }, message);
  }

  /** Inserts and, past the bound, forgets the oldest entries (Map order is insertion order). */
  private remember<T extends Listing | Lookup>(map: Map<string, T>, path: string, value: T): void {
    this.forget(map, path);
    map.set(path, value);
    this.cachedNames += namesIn(value);
    const bound = this.options.maxCachedNames ?? 4_000_000;
    for (const oldPath of map.keys()) {
      if (this.cachedNames <= bound || map.size <= 1) break;
      this.forget(map, oldPath);
    }
  }

  private forget<T extends Listing | Lookup>(map: Map<string, T>, path: string): void {
    const old = map.get(path);
    if (!old) return;
    map.delete(path);
    this.cachedNames -= namesIn(old);
  }
}

/**
 * The kernel keeps a file's page cache across opens while its size and mtime
 * stay the same (auto_cache). S3's LastModified has whole seconds, so a
 * same-size overwrite within one second would keep serving the old pages:
 * the ETag's hash goes into the milliseconds, which S3 never uses.
 */
export function fileNode(object: ObjectInfo): FileNode {
  let hash = 0;
  for (let i = 0; i < object.etag.length; i++) hash = (Math.imul(hash, 31) + object.etag.charCodeAt(i)) | 0;
  const seconds = Math.floor(object.lastModified.getTime() / 1000) * 1000;
  return { kind: 'file', key: object.key, size: object.size, etag: object.etag, mtime: new Date(seconds + (Math.abs(hash) % 1000)) };
}

function namesIn(value: Listing | Lookup): number {
  return 'entries' in value ? value.entries.size : 1;
}

export function splitPath(path: string): { parent: string; name: string } {
  const cut = path.lastIndexOf('/');
  return { parent: cut <= 0 ? '/' : path.slice(0, cut), name: path.slice(cut + 1) };
}
