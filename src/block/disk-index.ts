import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, RootDatabase } from 'lmdb';

/** What the index knows of one block file. */
export interface DiskEntry {
  /** The block's key (blockKey): the index itself is keyed by its SHA-1. */
  key?: string;
  /** Relative to the cache dir. */
  file: string;
  length: number;
  crc32c: number;
  /** Milliseconds since the epoch: keeps the eviction order across restarts. */
  lastAccess: number;
  /** Pinned (`cachalot pin`): never evicted, kept so across restarts. */
  pinned?: boolean;
}

export interface Reconciled {
  /** The entries whose files are there, least recently accessed first. */
  entries: Array<[key: string, entry: DiskEntry]>;
  /** Entries dropped because their file was missing or of the wrong size. */
  dropped: number;
  /** Files deleted because no entry listed them. */
  orphans: number;
}

const SHARDS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Where a block's file lives, relative to the cache dir; 256 folders keep each one small. */
export function blockFile(key: string): string {
  const hash = keyHash(key);
  return join('blocks', hash.slice(0, 2), hash);
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
 * The LMDB index of a disk tier's block files (index/ under the cache dir),
 * keyed by blockKey. An entry is written only after its file is complete, so
 * a crash can leave a file without an entry (written, or being deleted) or an
 * entry without a file (being deleted), never an entry for a file still being
 * written: reconcile() settles the rest.
 */
export class DiskIndex {
  private constructor(private readonly db: RootDatabase<DiskEntry, string>) {}

  static open(dir: string): DiskIndex {
    return new DiskIndex(open<DiskEntry, string>({ path: join(dir, 'index') }));
  }

  get(key: string): DiskEntry | undefined {
    const entry = this.db.get(keyHash(key));
    return entry?.key === key ? entry : undefined;
  }

  async put(key: string, entry: DiskEntry): Promise<void> {
    await this.db.put(keyHash(key), { ...entry, key });
  }

  async remove(key: string): Promise<void> {
    await this.db.remove(keyHash(key));
  }

  /**
   * Makes the index and blocks/ agree, at open: drops entries whose file is
   * missing or of another size, deletes files no entry lists. Synchronous file
   * calls: nothing else runs yet, and a stat is then a few microseconds rather
   * than a round trip through libuv's thread pool per file.
   */
  async reconcile(dir: string): Promise<Reconciled> {
    const present = new Set<string>();
    for (const shard of SHARDS) {
      const folder = join('blocks', shard);
      mkdirSync(join(dir, folder), { recursive: true });
      for (const name of readdirSync(join(dir, folder))) present.add(join(folder, name));
    }
    const entries: Reconciled['entries'] = [];
    const removals: Promise<void>[] = [];
    for (const { key: hash, value } of this.db.getRange()) {
      const key = value.key;
      const intact =
        key !== undefined && keyHash(key) === hash && value.file === blockFile(key) && present.has(value.file) && statSync(join(dir, value.file)).size === value.length;
      if (intact) {
        entries.push([key, value]);
        present.delete(value.file);
      } else {
        removals.push(this.db.remove(hash).then(() => undefined));
      }
    }
    for (const orphan of present) rmSync(join(dir, orphan), { recursive: true, force: true });
    await Promise.all(removals);
    entries.sort((a, b) => a[1].lastAccess - b[1].lastAccess);
    return { entries, dropped: removals.length, orphans: present.size };
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
