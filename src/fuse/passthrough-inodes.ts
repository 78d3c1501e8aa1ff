import type { Attr } from '../vfs/types';

/** Registers a backing file with the kernel connection, and drops the registration. */
export interface BackingFiles {
  /** Throws what the kernel answered (EPERM without CAP_SYS_ADMIN, ELOOP for a stacked filesystem). */
  open(fd: number): number;
  close(id: number): void;
}

/** How an open is answered: through the daemon, from a backing file (its id), or ESTALE. */
export type OpenAnswer = { passthrough: false } | { passthrough: true; backingId: number } | { stale: true };

interface Backed {
  id: number;
  /** The attributes of the version the kernel reads, which getattr answers while the inode is backed. */
  attr: Attr;
  version: string;
  opens: number;
}

/** An object version as the kernel sees it: its size and mtime (what its page cache is kept by, too). */
export const versionOf = (attr: Attr) => `${attr.size}:${attr.mtime.getTime()}`;

/**
 * Which inodes the kernel reads from a backing file (FUSE passthrough), and
 * under which backing id and object version. The kernel's rules: while an
 * inode has a file open in passthrough, every new open of it must name the
 * same backing file; while it has one open through the daemon, no open of it
 * may be passthrough (either way the open fails with EIO). So an open goes
 * passthrough only when its inode has no open through the daemon, and shares
 * the backing id of the opens before it. An open of another version while
 * the inode is read at an older one is answered ESTALE, on which the kernel
 * looks the name up again: the adapter gives the path a new inode number
 * then (renumberIfChanged), so the new version gets an inode of its own and
 * the readers of the old one keep theirs.
 */
export class PassthroughInodes {
  private readonly backed = new Map<number, Backed>();
  private readonly throughDaemon = new Map<number, number>();
  private readonly handles = new Map<number, { ino: number; backed: boolean }>();
  private enabled = false;

  constructor(private readonly backing: BackingFiles) {}

  /** Passthrough for new inodes from now on (INIT settled it and a backing file could be registered), or not. */
  enable(on: boolean): void {
    this.enabled = on;
  }

  /** Whether an open of `ino` could go passthrough, so that the VFS should look for the object's local file. */
  wants(ino: number): boolean {
    return this.backed.has(ino) || (this.enabled && !this.throughDaemon.has(ino));
  }

  /** The attributes a backed inode is read at; undefined for others. */
  attrOf(ino: number): Attr | undefined {
    return this.backed.get(ino)?.attr;
  }

  /** Whether `ino` is read through passthrough at another version than `attr`'s (the path then needs a new inode). */
  isStale(ino: number, attr: Attr): boolean {
    const backed = this.backed.get(ino);
    return backed !== undefined && backed.version !== versionOf(attr);
  }

  /**
   * Decides the answer to an open of `ino` at `attr` with handle `fh`, and
   * counts it (released() uncounts); localFd is the object's file, if the
   * VFS found it. A kernel that refuses the backing file turns passthrough
   * off (`onRefused` says why) and the open goes through the daemon.
   */
  open(fh: number, ino: number, attr: Attr, localFd: number | undefined, onRefused: (err: unknown) => void): OpenAnswer {
    const backed = this.backed.get(ino);
    if (backed) {
      if (backed.version !== versionOf(attr)) return { stale: true };
      backed.opens++;
      this.handles.set(fh, { ino, backed: true });
      return { passthrough: true, backingId: backed.id };
    }
    if (this.enabled && localFd !== undefined && !this.throughDaemon.has(ino)) {
      try {
        const id = this.backing.open(localFd);
        this.backed.set(ino, { id, attr, version: versionOf(attr), opens: 1 });
        this.handles.set(fh, { ino, backed: true });
        return { passthrough: true, backingId: id };
      } catch (err) {
        this.enabled = false;
        onRefused(err);
      }
    }
    this.throughDaemon.set(ino, (this.throughDaemon.get(ino) ?? 0) + 1);
    this.handles.set(fh, { ino, backed: false });
    return { passthrough: false };
  }

  /** The kernel released handle `fh` (or its open reply did not reach the kernel). */
  released(fh: number): void {
    const handle = this.handles.get(fh);
    if (!handle) return;
    this.handles.delete(fh);
    const { ino } = handle;
    if (!handle.backed) {
      const left = this.throughDaemon.get(ino)! - 1;
      if (left > 0) this.throughDaemon.set(ino, left);
      else this.throughDaemon.delete(ino);
      return;
    }
    const backed = this.backed.get(ino)!;
    if (--backed.opens > 0) return;
    this.backed.delete(ino);
    this.backing.close(backed.id);
  }
}
