import { constants } from 'node:os';
import { oneLine } from '../errors';
import type { Metrics } from '../obs/metrics';
import { toErrno } from '../vfs/errno';
import { VfsError, type Attr, type DirEntry, type Vfs } from '../vfs/types';
import { InodeTable } from './inode-table';
import { setKernelReadahead } from './kernel-readahead';
import { FuseOp, nativeFuse, type StatArgs } from './native-fuse';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
/** One full-size (1 MiB) request per readahead step; the VFS reads ahead further on its own. */
const KERNEL_READAHEAD_KIB = 1024;
/** What libfuse's own high-level layer puts in d_ino when a name has no inode yet. */
const UNKNOWN_INO = 0xffffffff;

export interface FuseMountOptions {
  fsName: string;
  /** Kernel attr/entry cache, seconds. */
  attrTimeoutSec: number;
  allowOther: boolean;
}

export interface FuseMount {
  /** Unmounts; rejects (and stays mounted) while files are busy. */
  unmount(): Promise<void>;
  /** The kernel's attr/entry cache time from the next reply on (SIGHUP). */
  setAttrTimeout(seconds: number): void;
  /** Settles when the kernel connection ends: after unmount(), or an unmount from outside. */
  readonly ended: Promise<void>;
}

interface Listing {
  names: string[];
  inos: number[];
  dirs: boolean[];
}

const statArgs = (ino: number, attr: Attr): StatArgs => {
  const dir = attr.kind === 'dir';
  return [ino, (dir ? S_IFDIR : S_IFREG) | attr.mode, attr.size, attr.mtime.getTime(), attr.uid, attr.gid, dir ? 2 : 1];
};

/** Escapes a -o value: libfuse splits options at commas. */
const optionValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/,/g, '\\,');

/**
 * Mounts the VFS through native/fuse. Each kernel request becomes one VFS
 * call whose result, or errno, is the reply; inode numbers and directory
 * listings live here because the kernel speaks inodes and the VFS paths. No
 * cache or S3 logic belongs here.
 */
export async function mountFuse(
  mountpoint: string,
  vfs: Vfs,
  options: FuseMountOptions,
  unmountPath: (path: string) => Promise<void>,
  metrics?: Metrics,
  onWarning?: (message: string) => void,
): Promise<FuseMount> {
  const fuse = nativeFuse();
  const inodes = new InodeTable();
  const listings = new Map<number, Listing>();
  let nextListing = 1;
  let markEnded: () => void = () => {};
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  let ttl = options.attrTimeoutSec;

  /** Runs one op: `reply` on success, the errno of the failure otherwise. */
  const serve = <T>(op: string, id: number, work: () => Promise<T>, reply: (value: T) => void) => {
    const stop = metrics?.fuseOps.startTimer({ op });
    const fail = (err: unknown) => fuse.replyErr(session, id, constants.errno[toErrno(err)]);
    let pending: Promise<T>;
    try {
      pending = work();
    } catch (err) {
      pending = Promise.reject(err);
    }
    // A reply that throws (a bad argument) still answers: with EIO, so the reader never hangs.
    pending.then(reply).catch(fail).finally(() => stop?.());
  };
  const noEntry = () => Promise.reject(new VfsError('ENOENT', 'inode not known'));
  const pathOf = (ino: number) => inodes.path(ino);

  const dispatch = (op: FuseOp, id: number, ino: number, fh: number, size: number, offset: number, name?: string) => {
    switch (op) {
      case FuseOp.Lookup: {
        const path = inodes.childPath(ino, name!);
        return serve('lookup', id, () => (path ? vfs.getattr(path) : noEntry()), (attr) => {
          const child = inodes.ref(path!);
          if (!fuse.replyEntry(session, id, ...statArgs(child, attr), ttl, ttl)) inodes.forget(child, 1);
        });
      }
      case FuseOp.Forget:
        return inodes.forget(ino, size);
      case FuseOp.Getattr: {
        const path = pathOf(ino);
        return serve('getattr', id, () => (path ? vfs.getattr(path) : noEntry()), (attr) => fuse.replyAttr(session, id, ...statArgs(ino, attr), ttl));
      }
      case FuseOp.Open: {
        const path = pathOf(ino);
        const open = async () => {
          if (!path) return noEntry();
          const attr = await vfs.getattr(path);
          return { handle: await vfs.open(path, size), version: `${attr.size}:${attr.mtime.getTime()}` };
        };
        // The kernel keeps the pages it cached from the last open while the object is unchanged.
        return serve('open', id, open, ({ handle, version }) => fuse.replyOpen(session, id, handle, inodes.reopenedAt(ino, version), 0));
      }
      case FuseOp.Read:
        // The reply goes to the kernel from the cached blocks themselves; they are held until it has them.
        return serve('read', id, () => vfs.read(fh, size, offset), (slices) => {
          metrics?.readBytes.inc(slices.bytes);
          if (!fuse.replyBuffers(session, id, slices.buffers, slices.release)) slices.release();
        });
      case FuseOp.Release:
        return serve('release', id, () => vfs.release(fh), () => fuse.replyErr(session, id, 0));
      case FuseOp.Opendir: {
        const path = pathOf(ino);
        return serve('opendir', id, () => (path ? vfs.readdir(path) : noEntry()), (entries) => {
          const listing = nextListing++;
          listings.set(listing, listingOf(path!, entries, ino));
          if (!fuse.replyOpen(session, id, listing, false, 0)) listings.delete(listing);
        });
      }
      case FuseOp.Readdir: {
        const listing = listings.get(fh);
        if (!listing) return fuse.replyErr(session, id, constants.errno.EBADF);
        return fuse.replyDir(session, id, size, offset, listing.names, listing.inos, listing.dirs);
      }
      case FuseOp.Releasedir:
        listings.delete(fh);
        return fuse.replyErr(session, id, 0);
      case FuseOp.Statfs: {
        const s = vfs.statfs();
        return fuse.replyStatfs(session, id, s.blockSize, s.blocks, s.blocksFree, s.files, s.nameMax);
      }
      case FuseOp.Init:
        return;
      case FuseOp.Ended:
        fuse.destroy(session);
        return markEnded();
    }
  };

  const listingOf = (path: string, entries: DirEntry[], ino: number): Listing => {
    const parent = path === '/' ? ino : (inodes.known(path.slice(0, path.lastIndexOf('/')) || '/') ?? UNKNOWN_INO);
    const listing: Listing = { names: ['.', '..'], inos: [ino, parent], dirs: [true, true] };
    for (const entry of entries) {
      listing.names.push(entry.name);
      listing.inos.push(inodes.known(inodes.childPath(ino, entry.name)!) ?? UNKNOWN_INO);
      listing.dirs.push(entry.attr.kind === 'dir');
    }
    return listing;
  };

  const mountOptions = [`fsname=${optionValue(options.fsName)}`, 'subtype=cachalot', ...(options.allowOther ? ['allow_other'] : [])];
  const session = fuse.mount(mountpoint, mountOptions.join(','), dispatch, false);
  const mount: FuseMount = {
    ended,
    setAttrTimeout: (seconds) => (ttl = seconds),
    unmount: async () => {
      await unmountPath(mountpoint);
      await ended;
    },
  };
  await setKernelReadahead(mountpoint, KERNEL_READAHEAD_KIB).catch((err) => onWarning?.(`kernel readahead left at its default: ${oneLine(err)}`));
  return mount;
}
