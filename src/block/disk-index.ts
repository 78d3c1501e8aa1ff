import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, RootDatabase } from 'lmdb';
import { blockIndexOf, OBJECT_SHARDS, OBJECTS_DIR, objectFile, objectKeyOf } from './object-files';

/** What the index knows of one cached block; its bytes are in its object's file (object-files.ts). */
export interface DiskEntry {
  /** The block's key (blockKey): the index itself is keyed by its SHA-1. */
  key?: string;
  length: number;
  crc32c: number;
  /** Milliseconds since the epoch: keeps the eviction order across restarts. */
  lastAccess: number;
  /** Pinned (`cachalot pin`): never evicted, kept so across restarts. */
  pinned?: boolean;
}

/** The layout the index describes: entries of another one are dropped at open. */
interface Format {
  version: number;
  blockSize: number;
}

/**
 * 2: one file per object version, blocks at their offsets (1, before it:
 * one file per block under blocks/).
 */
const FORMAT_VERSION = 2;
const FORMAT_KEY = 'format';
/** What layout 1 kept its block files in. */
const LEGACY_BLOCKS_DIR = 'blocks';

export interface Reconciled {
  /** The entries whose bytes are there, least recently accessed first. */
  entries: Array<[key: string, entry: DiskEntry]>;
  /** Entries dropped because their file was missing or too short. */
  dropped: number;
  /** Files deleted because no entry listed them. */
  orphans: number;
  /** Why every entry was dropped at open (another layout or block size), if it was. */
  reset?: string;
}

/**
 * The LMDB key of a block: its key's SHA-1 in hex. Block keys themselves do
 * not fit: they hold NUL separators, which lmdb's key encoding reads back as
 * arrays, and an object key alone may be 1,024 bytes, past LMDB's 511.
 */
function keyHash(key: string): string {
  return createHash('sha1').update(key).digest('hex');
}

/**
 * The LMDB index of a disk tier's blocks (index/ under the cache dir), keyed
 * by blockKey. An entry is written only after its bytes are in the object's
 * file, so a crash can leave bytes without an entry (never served, and
 * overwritten when the block is fetched again) or an entry whose bytes a
 * power loss tore (its CRC32C check fails and drops it), never an entry for
 * bytes still being written: reconcile() settles files and entries at open.
 */
export class DiskIndex {
  private constructor(private readonly db: RootDatabase<DiskEntry | Format, string>) {}

  static open(dir: string): DiskIndex {
    return new DiskIndex(open<DiskEntry | Format, string>({ path: join(dir, 'index') }));
  }

  get(key: string): DiskEntry | undefined {
    const entry = this.db.get(keyHash(key)) as DiskEntry | undefined;
    return entry?.key === key ? entry : undefined;
  }

  async put(key: string, entry: DiskEntry): Promise<void> {
    await this.db.put(keyHash(key), { ...entry, key });
  }

  async remove(key: string): Promise<void> {
    await this.db.remove(keyHash(key));
  }

  /**
   * Makes the index and the object files agree, at open: drops entries whose
   * file is missing or ends before the block does, deletes files no entry
   * lists. An index of another layout or block size starts over empty (a
   * block's offset is its index times the block size). Synchronous file
   * calls: nothing else runs yet, and a stat is then a few microseconds
   * rather than a round trip through libuv's thread pool per file.
   */
  async reconcile(dir: string, blockSize: number): Promise<Reconciled> {
    const reset = this.formatMismatch(dir, blockSize);
    if (reset !== undefined || this.db.get(FORMAT_KEY) === undefined) await this.startOver(dir, blockSize);
    const sizes = new Map<string, number>();
    for (const shard of OBJECT_SHARDS) {
      const folder = join(OBJECTS_DIR, shard);
      mkdirSync(join(dir, folder), { recursive: true });
      for (const name of readdirSync(join(dir, folder))) sizes.set(join(folder, name), statSync(join(dir, folder, name)).size);
    }
    const entries: Reconciled['entries'] = [];
    const listed = new Set<string>();
    const removals: Promise<void>[] = [];
    for (const { key: hash, value } of this.db.getRange()) {
      if (hash === FORMAT_KEY) continue;
      const entry = value as DiskEntry;
      const key = entry.key;
      const file = key === undefined ? undefined : objectFile(objectKeyOf(key));
      const end = key === undefined ? 0 : blockIndexOf(key) * blockSize + entry.length;
      if (key !== undefined && keyHash(key) === hash && file !== undefined && (sizes.get(file) ?? -1) >= end) {
        entries.push([key, entry]);
        listed.add(file);
      } else {
        removals.push(this.db.remove(hash).then(() => undefined));
      }
    }
    const orphans = [...sizes.keys()].filter((file) => !listed.has(file));
    for (const orphan of orphans) rmSync(join(dir, orphan), { force: true });
    await Promise.all(removals);
    entries.sort((a, b) => a[1].lastAccess - b[1].lastAccess);
    return { entries, dropped: removals.length, orphans: orphans.length, reset };
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** Why the index cannot be read with this layout and block size; undefined when it can (or is new). */
  private formatMismatch(dir: string, blockSize: number): string | undefined {
    const format = this.db.get(FORMAT_KEY) as Format | undefined;
    if (format === undefined) {
      const empty = this.db.getKeysCount() === 0 && !existsSync(join(dir, LEGACY_BLOCKS_DIR));
      return empty ? undefined : 'the cache was written in the block-file layout of an earlier version';
    }
    if (format.version !== FORMAT_VERSION) return `the cache was written in layout ${format.version}, this version reads ${FORMAT_VERSION}`;
    if (format.blockSize !== blockSize) return `the cache was written with blocks of ${format.blockSize} bytes, now ${blockSize}`;
    return undefined;
  }

  private async startOver(dir: string, blockSize: number): Promise<void> {
    await this.db.clearAsync();
    rmSync(join(dir, LEGACY_BLOCKS_DIR), { recursive: true, force: true });
    rmSync(join(dir, OBJECTS_DIR), { recursive: true, force: true });
    await this.db.put(FORMAT_KEY, { version: FORMAT_VERSION, blockSize });
  }
}
