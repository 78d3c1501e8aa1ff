import { constants } from 'node:fs';
import type { Metrics } from '../obs/metrics';
import { VfsError, type Attr, type Vfs } from '../vfs/types';
import type { InodeTable } from './inode-table';
import { FuseOp, type NativeFuse, type SessionHandle } from './native-fuse';
import type { PassthroughInodes } from './passthrough-inodes';
import { S_IFMT, S_IFREG, statArgs } from './stat-args';

/** fuse_setattr_in.valid: the size is set. */
const FATTR_SIZE = 1 << 3;
const RENAME_NOREPLACE = 1;

/** Runs one op for a request: `reply` on success, the errno of the failure otherwise (the adapter's). */
export type Serve = <T>(op: string, id: number, work: () => Promise<T>, reply: (value: T) => void) => void;

export interface ChangeContext {
  fuse: NativeFuse;
  session: () => SessionHandle;
  vfs: Vfs;
  inodes: InodeTable;
  passthrough: PassthroughInodes;
  serve: Serve;
  noEntry: () => Promise<never>;
  /** The kernel's attr/entry cache time now, seconds. */
  ttl: () => number;
  metrics?: Metrics;
  /** The kernel refused a backing file: passthrough is off from now on. */
  onRefused: (err: unknown) => void;
}

/**
 * The requests that change the filesystem (create, write, flush, fsync,
 * setattr, mkdir, mknod, unlink, rmdir, rename): each one VFS call, its
 * result or errno the reply, as for the adapter's reads (fuse-adapter.ts).
 */
export function changeRequests(ctx: ChangeContext) {
  const { fuse, vfs, inodes, passthrough, serve, noEntry, metrics } = ctx;

  /** Replies with the entry of a path just made (a file or folder), its inode counted. */
  const replyNew = (id: number, path: string, attr: Attr) => {
    const child = inodes.ref(path);
    if (!fuse.replyEntry(ctx.session(), id, ...statArgs(child, attr), ctx.ttl(), ctx.ttl())) inodes.forget(child, 1);
  };

  return (op: FuseOp, id: number, ino: number, fh: number, size: number, offset: number, name: string | undefined, flags: number, data: Buffer | undefined, name2: string | undefined, pid: number): void => {
    const session = ctx.session();
    const ttl = ctx.ttl();
    switch (op) {
      case FuseOp.Create: {
        const path = inodes.childPath(ino, name!);
        return serve('create', id, () => (path ? vfs.create(path, flags) : noEntry()), (file) => {
          // The name may stand for an object read through passthrough: the new file gets an inode of its own.
          const known = inodes.known(path!);
          if (known !== undefined && passthrough.attrOf(known)) inodes.renumber(path!);
          const child = inodes.ref(path!);
          passthrough.open(file.handle, child, file.attr, undefined, ctx.onRefused);
          if (!fuse.replyCreate(session, id, ...statArgs(child, file.attr), ttl, ttl, file.handle, false, 0)) {
            inodes.forget(child, 1);
            passthrough.released(file.handle);
            void vfs.release(file.handle);
          }
        });
      }
      case FuseOp.Mknod: {
        // mknod(2) of a regular file: an empty object, as touch makes; no devices, fifos or sockets in S3.
        const path = inodes.childPath(ino, name!);
        const make = async () => {
          if (!path) return noEntry();
          if ((size & S_IFMT) !== S_IFREG) throw new VfsError('EPERM', `${path}: only regular files can be made here`);
          const file = await vfs.create(path, constants.O_EXCL | constants.O_WRONLY);
          try {
            await vfs.flush(file.handle, 0);
          } finally {
            await vfs.release(file.handle);
          }
          return vfs.getattr(path);
        };
        return serve('mknod', id, make, (attr) => replyNew(id, path!, attr));
      }
      case FuseOp.Write:
        return serve('write', id, () => vfs.write(fh, data!, offset), (bytes) => {
          metrics?.writtenBytes.inc(bytes);
          fuse.replyWrite(session, id, bytes);
        });
      case FuseOp.Flush:
        return serve('flush', id, () => vfs.flush(fh, pid), () => fuse.replyErr(session, id, 0));
      case FuseOp.Fsync:
        return serve('fsync', id, () => vfs.fsync(fh), () => fuse.replyErr(session, id, 0));
      case FuseOp.Setattr: {
        const path = inodes.path(ino);
        const request = { size: flags & FATTR_SIZE ? size : undefined, handle: fh || undefined };
        return serve('setattr', id, () => (path ? vfs.setattr(path, request) : noEntry()), (attr) => fuse.replyAttr(session, id, ...statArgs(ino, attr), ttl));
      }
      case FuseOp.Mkdir: {
        const path = inodes.childPath(ino, name!);
        return serve('mkdir', id, () => (path ? vfs.mkdir(path) : noEntry()), (attr) => replyNew(id, path!, attr));
      }
      case FuseOp.Unlink:
      case FuseOp.Rmdir: {
        const path = inodes.childPath(ino, name!);
        const remove = () => (!path ? noEntry() : op === FuseOp.Unlink ? vfs.unlink(path) : vfs.rmdir(path));
        return serve(op === FuseOp.Unlink ? 'unlink' : 'rmdir', id, remove, () => fuse.replyErr(session, id, 0));
      }
      case FuseOp.Rename: {
        const from = inodes.childPath(ino, name!);
        const to = inodes.childPath(fh, name2!);
        const rename = () => {
          if (!from || !to) return noEntry();
          // RENAME_EXCHANGE and RENAME_WHITEOUT have no meaning for objects.
          if (flags & ~RENAME_NOREPLACE) return Promise.reject(new VfsError('EINVAL', `${from}: rename flags ${flags} are not supported`));
          return vfs.rename(from, to, (flags & RENAME_NOREPLACE) !== 0);
        };
        return serve('rename', id, rename, () => {
          inodes.move(from!, to!);
          fuse.replyErr(session, id, 0);
        });
      }
    }
  };
}
