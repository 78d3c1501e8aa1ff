import { constants } from 'node:fs';
import type { LocalObjects, ObjectFile } from '../block/types';
import { isCachalotError } from '../errors';
import type { Logger } from '../obs/logger';
import { FileReader } from './file-reader';
import type { HeldBlocks } from './held-blocks';
import type { Namespace, Node } from './namespace';
import { Attr, DirEntry, OpenFile, ReadSlices, StatFs, Vfs, VfsError } from './types';

export interface ObjectVfsOptions {
  bucket: string;
  blockSize: number;
  readaheadMax: number;
  uid: number;
  gid: number;
  fileMode: number;
  dirMode: number;
  readOnly: boolean;
  log: Logger;
  onOpenFilesChange?: (count: number) => void;
}

interface Handle {
  path: string;
  reader: FileReader;
  /** The object's file on the cache disk, held for this handle (OpenFile.localFd). */
  local?: ObjectFile;
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_RDWR | constants.O_TRUNC | constants.O_APPEND | constants.O_CREAT;

/** POSIX over an object namespace: folders from prefixes, files read block by block. */
export class ObjectVfs implements Vfs {
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;
  private readonly mountedAt = new Date();
  private draining = false;
  private readsInFlight = 0;
  /** Called when the last read in flight ends while draining. */
  private onIdle: () => void = () => {};

  constructor(
    private readonly namespace: Namespace,
    private readonly blocks: HeldBlocks,
    private readonly options: ObjectVfsOptions,
    /** Objects cached whole on disk (the disk tier); none: open() never hands out a local file. */
    private readonly localObjects?: LocalObjects,
  ) {}

  async getattr(path: string): Promise<Attr> {
    const node = await this.namespace.lookup(path);
    if (!node) throw new VfsError('ENOENT', `${path}: not found`);
    return this.attrOf(node);
  }

  async readdir(path: string): Promise<DirEntry[]> {
    const entries = await this.namespace.list(path);
    return [...entries].map(([name, node]) => ({ name, attr: this.attrOf(node) }));
  }

  async open(path: string, flags: number, local = false): Promise<OpenFile> {
    const node = await this.namespace.lookup(path);
    if (!node) throw new VfsError('ENOENT', `${path}: not found`);
    if (node.kind === 'dir') throw new VfsError('EISDIR', `${path}: is a directory`);
    if (this.draining) throw new VfsError('ENOTCONN', `${path}: the filesystem is shutting down`);
    // Writing back to S3 is not part of the read path yet; say so rather than lose data.
    if (flags & WRITE_FLAGS) throw new VfsError('EROFS', `${path}: read-only file system`);
    const file = local ? await this.localObjects?.openObject({ bucket: this.options.bucket, key: node.key, etag: node.etag, size: node.size }) : undefined;
    const handle = this.nextHandle++;
    const reader = new FileReader(node, this.blocks, this.options);
    this.handles.set(handle, { path, reader, local: file });
    this.options.onOpenFilesChange?.(this.handles.size);
    return { handle, attr: this.attrOf(node), localFd: file?.fd };
  }

  async read(handle: number, length: number, position: number): Promise<ReadSlices> {
    const open = this.handles.get(handle);
    if (!open) throw new VfsError('EBADF', `handle ${handle} is not open`);
    this.readsInFlight++;
    try {
      return await open.reader.slices(length, position);
    } catch (err) {
      if (isCachalotError(err, 'PreconditionFailed')) {
        // The object changed under an open file: never mix versions; the next open sees the new one.
        this.namespace.invalidate(open.path);
        this.options.log.warn({ path: open.path }, 'object changed while open; read fails with EIO');
      } else {
        this.options.log.error({ path: open.path, position, err: String(err) }, 'read failed');
      }
      throw err;
    } finally {
      if (--this.readsInFlight === 0) this.onIdle();
    }
  }

  async drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    if (this.readsInFlight === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      // A read's reply is sent when its promise settles, after this count
      // dropped: resolve a turn later, so the last replies are out first.
      this.onIdle = () => {
        clearTimeout(timer);
        setImmediate(() => resolve(true));
      };
    });
  }

  async release(handle: number): Promise<void> {
    const open = this.handles.get(handle);
    open?.reader.close();
    open?.local?.release();
    this.handles.delete(handle);
    this.options.onOpenFilesChange?.(this.handles.size);
  }

  statfs(): StatFs {
    // S3 has no capacity; report a large, constant one so tools that check free space go on.
    return { blockSize: 4096, blocks: 2 ** 40 / 4096, blocksFree: 2 ** 40 / 4096, files: 2 ** 31, nameMax: 255 };
  }

  async close(): Promise<void> {
    for (const handle of [...this.handles.keys()]) await this.release(handle);
  }

  private attrOf(node: Node): Attr {
    const { uid, gid, fileMode, dirMode } = this.options;
    if (node.kind === 'dir') {
      return { kind: 'dir', size: 4096, mtime: this.mountedAt, mode: dirMode, uid, gid };
    }
    return { kind: 'file', size: node.size, mtime: node.mtime, mode: fileMode, uid, gid };
  }
}
