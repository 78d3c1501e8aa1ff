/** The root directory's inode number, fixed by the FUSE protocol. */
export const ROOT_INO = 1;

interface Inode {
  path: string;
  /** Lookups the kernel holds; the number is reused only after it forgets them all. */
  lookups: number;
  /** size:mtime of the file when it was last opened, for keep_cache. */
  openedVersion?: string;
}

/**
 * Kernel inode numbers for VFS paths. The kernel counts its references to
 * each number (every lookup reply adds one, forget removes some); a number
 * maps to the same path for as long as the kernel holds it.
 */
export class InodeTable {
  private readonly byIno = new Map<number, Inode>([[ROOT_INO, { path: '/', lookups: 1 }]]);
  private readonly byPath = new Map<string, number>([['/', ROOT_INO]]);
  private next = ROOT_INO + 1;

  path(ino: number): string | undefined {
    return this.byIno.get(ino)?.path;
  }

  /** The path of `name` inside directory `parent`, or undefined for an unknown parent. */
  childPath(parent: number, name: string): string | undefined {
    const dir = this.path(parent);
    if (dir === undefined) return undefined;
    return dir === '/' ? `/${name}` : `${dir}/${name}`;
  }

  /** The inode number of a path the kernel knows, if any. */
  known(path: string): number | undefined {
    return this.byPath.get(path);
  }

  /** A lookup answered for `path`: its number, with one more reference. */
  ref(path: string): number {
    let ino = this.byPath.get(path);
    if (ino === undefined) {
      ino = this.next++;
      this.byPath.set(path, ino);
      this.byIno.set(ino, { path, lookups: 0 });
    }
    this.byIno.get(ino)!.lookups++;
    return ino;
  }

  forget(ino: number, lookups: number): void {
    const inode = this.byIno.get(ino);
    if (!inode || ino === ROOT_INO) return;
    inode.lookups -= lookups;
    if (inode.lookups > 0) return;
    this.byIno.delete(ino);
    if (this.byPath.get(inode.path) === ino) this.byPath.delete(inode.path);
  }

  /** The kernel moved a name (rename): its number now stands for the new path; what stood there before keeps its number, nameless. */
  move(from: string, to: string): void {
    const ino = this.byPath.get(from);
    if (ino === undefined) return;
    this.byPath.delete(from);
    this.byPath.set(to, ino);
    this.byIno.get(ino)!.path = to;
  }

  /**
   * The next lookup of `path` gets a new number, its current one staying
   * with what the kernel holds of it (open files of an older version).
   */
  renumber(path: string): void {
    this.byPath.delete(path);
  }

  /**
   * Records that the file is opened at `version`; true when it is the version
   * of the previous open, so the kernel may keep the pages it cached.
   */
  reopenedAt(ino: number, version: string): boolean {
    const inode = this.byIno.get(ino);
    if (!inode) return false;
    const same = inode.openedVersion === version;
    inode.openedVersion = version;
    return same;
  }

  get size(): number {
    return this.byIno.size;
  }
}
