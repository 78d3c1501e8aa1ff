import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { oneLine } from '../errors';
import type { Metrics } from '../obs/metrics';
import { toErrno } from '../vfs/errno';
import { VfsError, type DirEntry, type Vfs } from '../vfs/types';
import { InodeTable } from './inode-table';
import { setKernelReadahead } from './kernel-readahead';
import { FuseOp, nativeFuse, PassthroughState } from './native-fuse';
import { statArgs } from './stat-args';
import { changeRequests } from './change-requests';
import { type BackingFiles, PassthroughInodes, versionOf } from './passthrough-inodes';

/** One full-size (1 MiB) request per readahead step; the VFS reads ahead further on its own. */
const KERNEL_READAHEAD_KIB = 1024;
/** What libfuse's own high-level layer puts in d_ino when a name has no inode yet. */
const UNKNOWN_INO = 0xffffffff;

export interface FuseMountOptions {
  fsName: string;
  /** Kernel attr/entry cache, seconds. */
  attrTimeoutSec: number;
  allowOther: boolean;
  /** Mounted read-only (the kernel answers EROFS to every change). */
  readOnly: boolean;
  /** Let the kernel read files cached whole on disk itself (FUSE passthrough), where it can. */
  passthrough: boolean;
  /** Told once the kernel connection is up, and again if passthrough turns off: whether it is on, and if not why. */
  onPassthrough?: (on: boolean, why: string) => void;
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
  const backing: BackingFiles = {
    open: (fd) => fuse.backingOpen(session, fd),
    close: (backingId) => {
      try {
        fuse.backingClose(session, backingId);
      } catch (err) {
        onWarning?.(`backing file ${backingId} not closed: ${oneLine(err)}`);
      }
    },
  };
  const passthrough = new PassthroughInodes(backing);
  const passthroughOff = (err: unknown) => options.onPassthrough?.(false, `the kernel refused a backing file: ${oneLine(err)}`);

  const changes = changeRequests({
    fuse,
    session: () => session,
    vfs,
    inodes,
    passthrough,
    serve,
    noEntry,
    ttl: () => ttl,
    metrics,
    onRefused: passthroughOff,
  });

  const dispatch = (op: FuseOp, id: number, ino: number, fh: number, size: number, offset: number, name: string | undefined, flags: number, data: Buffer | undefined, name2: string | undefined, pid: number) => {
    switch (op) {
      case FuseOp.Lookup: {
        const path = inodes.childPath(ino, name!);
        return serve('lookup', id, () => (path ? vfs.getattr(path) : noEntry()), (attr) => {
          // A new version of a file read through passthrough gets an inode of its own.
          const known = inodes.known(path!);
          if (known !== undefined && passthrough.isStale(known, attr)) inodes.renumber(path!);
          const child = inodes.ref(path!);
          if (!fuse.replyEntry(session, id, ...statArgs(child, attr), ttl, ttl)) inodes.forget(child, 1);
        });
      }
      case FuseOp.Forget:
        return inodes.forget(ino, size);
      case FuseOp.Getattr: {
        const path = pathOf(ino);
        // An inode read through passthrough keeps the attributes of the version the kernel reads.
        const backed = passthrough.attrOf(ino);
        const attrs = () => (backed ? Promise.resolve(backed) : path ? vfs.getattr(path) : noEntry());
        return serve('getattr', id, attrs, (attr) => fuse.replyAttr(session, id, ...statArgs(ino, attr), ttl));
      }
      case FuseOp.Open: {
        const path = pathOf(ino);
        const open = () => (path ? vfs.open(path, size, passthrough.wants(ino)) : noEntry());
        return serve('open', id, open, (file) => {
          const answer = passthrough.open(file.handle, ino, file.attr, file.localFd, passthroughOff);
          if ('stale' in answer) {
            // The kernel looks the name up again, onto the new version's own inode.
            inodes.renumber(path!);
            passthrough.released(file.handle);
            void vfs.release(file.handle);
            return fuse.replyErr(session, id, constants.errno.ESTALE);
          }
          // Through the daemon, the kernel keeps the pages it cached from the last open while the object is unchanged.
          const keepCache = !answer.passthrough && inodes.reopenedAt(ino, versionOf(file.attr));
          const sent = fuse.replyOpen(session, id, file.handle, keepCache, answer.passthrough ? answer.backingId : 0);
          if (!sent) {
            passthrough.released(file.handle);
            void vfs.release(file.handle);
          } else if (answer.passthrough) {
            metrics?.passthroughOpens.inc();
          }
        });
      }
      case FuseOp.Create:
      case FuseOp.Mknod:
      case FuseOp.Write:
      case FuseOp.Flush:
      case FuseOp.Fsync:
      case FuseOp.Setattr:
      case FuseOp.Mkdir:
      case FuseOp.Unlink:
      case FuseOp.Rmdir:
      case FuseOp.Rename:
        return changes(op, id, ino, fh, size, offset, name, flags, data, name2, pid);
      case FuseOp.Read:
        // The reply goes to the kernel from the cached blocks themselves; they are held until it has them.
        return serve('read', id, () => vfs.read(fh, size, offset), (slices) => {
          metrics?.readBytes.inc(slices.bytes);
          if (!fuse.replyBuffers(session, id, slices.buffers, slices.release)) slices.release();
        });
      case FuseOp.Release:
        passthrough.released(fh);
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
        return settlePassthrough(ino as PassthroughState);
      case FuseOp.Ended:
        fuse.destroy(session);
        return markEnded();
    }
  };

  /** After INIT: passthrough is on once the kernel offered it and registers a backing file from this process. */
  const settlePassthrough = (state: PassthroughState) => {
    if (state === PassthroughState.Off) return;
    if (state === PassthroughState.NoKernel) return options.onPassthrough?.(false, 'the kernel does not offer it (Linux 6.9 or later with CONFIG_FUSE_PASSTHROUGH)');
    try {
      backing.close(probeBacking(backing));
      passthrough.enable(true);
      options.onPassthrough?.(true, '');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'EPERM' ? 'registering a backing file needs CAP_SYS_ADMIN' : oneLine(err);
      options.onPassthrough?.(false, why);
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

  const mountOptions = [`fsname=${optionValue(options.fsName)}`, 'subtype=cachalot', ...(options.allowOther ? ['allow_other'] : []), ...(options.readOnly ? ['ro'] : [])];
  const session = fuse.mount(mountpoint, mountOptions.join(','), dispatch, options.passthrough);
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

/** Registers a backing file and drops it: whether this process may (CAP_SYS_ADMIN). Any regular file does; its own program is one. */
function probeBacking(backing: BackingFiles): number {
  const fd = openSync(process.execPath, 'r');
  try {
    return backing.open(fd);
  } finally {
    closeSync(fd);
  }
}
