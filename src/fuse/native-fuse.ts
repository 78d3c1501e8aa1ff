import { nativeAddon } from '../native-addon';

/**
 * Typed access to native/fuse, which speaks the kernel's FUSE protocol
 * (libfuse3 only mounts; native/fuse/src/session.h). Requests arrive at one
 * dispatcher; each is answered once with a reply*, by the id it came with. A
 * reply for an id no longer in flight is refused (returns false).
 */
export const enum FuseOp {
  Lookup = 1,
  Forget = 2,
  Getattr = 3,
  Open = 4,
  Read = 5,
  Release = 6,
  Opendir = 7,
  Readdir = 8,
  Releasedir = 9,
  Statfs = 10,
  /** ino: parent, name, size: mode, flags: open flags. */
  Create = 11,
  /** fh, offset, data. */
  Write = 12,
  /** fh, pid: the process closing a descriptor of the file. */
  Flush = 13,
  Fsync = 14,
  /** ino, fh (0: none), flags: the kernel's FATTR_* bits, size: the new size with FATTR_SIZE. */
  Setattr = 15,
  /** ino: parent, name, size: mode. */
  Mkdir = 16,
  /** ino: parent, name. */
  Unlink = 17,
  Rmdir = 18,
  /** ino: parent, name, fh: the new parent, name2: the new name, flags: RENAME_NOREPLACE (1), RENAME_EXCHANGE (2), RENAME_WHITEOUT (4). */
  Rename = 19,
  /** ino: parent, name, size: mode. */
  Mknod = 20,
  /** INIT was answered: `size` is the protocol's minor version in use, `ino` a PassthroughState. */
  Init = 98,
  /** The kernel connection ended (unmounted here or from outside); call destroy(). */
  Ended = 99,
}

/** What INIT settled about FUSE passthrough. */
export const enum PassthroughState {
  /** Not asked for. */
  Off = 0,
  On = 1,
  /** The kernel does not offer it (before Linux 6.9, or built without CONFIG_FUSE_PASSTHROUGH). */
  NoKernel = 2,
}

/**
 * ino/fh are the request's inode and file handle; size is the byte count of a
 * read or readdir, the lookup count of a forget, the flags of an open, or a
 * mode; name, flags, data, name2 and pid as FuseOp says for each op.
 */
export type Dispatch = (
  op: FuseOp,
  id: number,
  ino: number,
  fh: number,
  size: number,
  offset: number,
  name: string | undefined,
  flags: number,
  data: Buffer | undefined,
  name2: string | undefined,
  pid: number,
) => void;

declare const sessionBrand: unique symbol;
export type SessionHandle = { readonly [sessionBrand]: true };

/** (ino, mode, size, mtimeMs, uid, gid, nlink), as the stat of an entry or attr reply. */
export type StatArgs = [number, number, number, number, number, number, number];

export interface NativeFuse {
  /**
   * Mounts synchronously; `options` is a -o string (fsname=...,subtype=...);
   * `passthrough` asks the kernel for FUSE passthrough at INIT. Throws with
   * libfuse's reason.
   */
  mount(mountpoint: string, options: string, dispatch: Dispatch, passthrough: boolean): SessionHandle;
  /** After FuseOp.Ended: stops replies and frees the session. */
  destroy(session: SessionHandle): void;
  replyErr(session: SessionHandle, id: number, errno: number): boolean;
  replyEntry(session: SessionHandle, id: number, ...stat: [...StatArgs, entryTimeoutSec: number, attrTimeoutSec: number]): boolean;
  replyAttr(session: SessionHandle, id: number, ...stat: [...StatArgs, attrTimeoutSec: number]): boolean;
  /** backingId > 0 (from backingOpen): the kernel reads this open file from that backing file itself. */
  replyOpen(session: SessionHandle, id: number, fh: number, keepCache: boolean, backingId: number): boolean;
  /** A new file's entry and its open file, in one reply. */
  replyCreate(session: SessionHandle, id: number, ...entry: [...StatArgs, entryTimeoutSec: number, attrTimeoutSec: number, fh: number, keepCache: boolean, backingId: number]): boolean;
  replyWrite(session: SessionHandle, id: number, bytes: number): boolean;
  /**
   * Registers an open file descriptor as a passthrough backing file; throws
   * an Error whose code is the errno's name (EPERM without CAP_SYS_ADMIN).
   */
  backingOpen(session: SessionHandle, fd: number): number;
  /** Unregisters a backing id; opens that named it keep their file. */
  backingClose(session: SessionHandle, backingId: number): void;
  /**
   * Sends the bytes of `buffers`, back to back, copied into the kernel on a
   * worker thread; `done` is called once they are, when the buffers may be
   * reused (not called when the id is not in flight: false).
   */
  replyBuffers(session: SessionHandle, id: number, buffers: Buffer[], done: () => void): boolean;
  replyStatfs(session: SessionHandle, id: number, blockSize: number, blocks: number, blocksFree: number, files: number, nameMax: number): boolean;
  /** Sends the entries from index `offset` on that fit in `size` bytes; returns how many (-1: not in flight). */
  replyDir(session: SessionHandle, id: number, size: number, offset: number, names: string[], inos: number[], dirs: boolean[]): number;
}

export const nativeFuse = nativeAddon<NativeFuse>('fuse');
