/**
 * The VFS contract: POSIX semantics over paths, independent of FUSE. The FUSE
 * adapter calls these and maps VfsError.errno to the kernel's numbers.
 */
export type Errno =
  | 'ENOENT'
  | 'EIO'
  | 'EROFS'
  | 'EISDIR'
  | 'ENOTDIR'
  | 'EBADF'
  | 'EACCES'
  | 'EINVAL'
  | 'ENOTCONN'
  | 'EEXIST'
  | 'ENOTEMPTY'
  | 'EPERM'
  | 'ENOTSUP'
  | 'EXDEV'
  | 'EBUSY'
  | 'ENOSPC'
  | 'ENAMETOOLONG';

export class VfsError extends Error {
  constructor(
    readonly errno: Errno,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'VfsError';
  }
}

export interface Attr {
  kind: 'file' | 'dir';
  size: number;
  mtime: Date;
  mode: number;
  uid: number;
  gid: number;
}

export interface DirEntry {
  name: string;
  attr: Attr;
}

export interface StatFs {
  blockSize: number;
  blocks: number;
  blocksFree: number;
  files: number;
  nameMax: number;
}

/** An open file: its handle, the attributes it was opened with, and its bytes' file on the cache disk if asked for and there. */
export interface OpenFile {
  handle: number;
  attr: Attr;
  /**
   * Asked for with `local`: a descriptor of a file on the cache disk holding
   * every byte of the version opened (for the kernel to read itself, FUSE
   * passthrough); valid until release(handle).
   */
  localFd?: number;
}

/** Which attributes a setattr changes (the kernel's FATTR_* bits that matter here). */
export interface SetattrRequest {
  /** FATTR_SIZE: the new size. */
  size?: number;
  /** An open handle of the file, when the change came through one (ftruncate). */
  handle?: number;
}

/** What one read returns: views of the blocks that hold the bytes, back to back, held until release() (once). */
export interface ReadSlices {
  buffers: Buffer[];
  bytes: number;
  release(): void;
}

export interface Vfs {
  getattr(path: string): Promise<Attr>;
  readdir(path: string): Promise<DirEntry[]>;
  /** The open file stays pinned to the version it saw; `local` asks for its file on the cache disk (OpenFile.localFd). */
  open(path: string, flags: number, local?: boolean): Promise<OpenFile>;
  /** The bytes read (none at end of file), as views of cached blocks held until release(). */
  read(handle: number, length: number, position: number): Promise<ReadSlices>;
  release(handle: number): Promise<void>;
  /**
   * A new file, open for writing: written sequentially, stored in S3 when
   * closed (flush) or fsync'd. Existing: EEXIST with `exclusive`, else as
   * open with O_TRUNC.
   */
  create(path: string, flags: number): Promise<OpenFile>;
  /** Appends data at `position`, which must be where the file ends (ENOTSUP otherwise); bytes taken. */
  write(handle: number, data: Buffer, position: number): Promise<number>;
  /**
   * A descriptor of the handle was closed by process `pid`: what was written
   * is stored in S3 before this resolves (EIO if it cannot be), unless the
   * process was killed, which drops it.
   */
  flush(handle: number, pid: number): Promise<void>;
  /** What was written is stored in S3 before this resolves. */
  fsync(handle: number): Promise<void>;
  /** Sizes, modes, owners and times: the new attributes (modes, owners and times are the mount's: accepted, not kept). */
  setattr(path: string, request: SetattrRequest): Promise<Attr>;
  mkdir(path: string): Promise<Attr>;
  unlink(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** Files only (EXDEV for folders); not atomic: a copy, then a delete. `noReplace`: EEXIST when `to` exists. */
  rename(from: string, to: string, noReplace: boolean): Promise<void>;
  statfs(): StatFs;
  /**
   * Shutting down: refuses new opens from now on (ENOTCONN, as a mount whose daemon is gone) and resolves
   * once the reads in flight have finished, or timeoutMs passed (false).
   */
  drain(timeoutMs: number): Promise<boolean>;
  /** Closes every handle; for unmount. */
  close(): Promise<void>;
}
