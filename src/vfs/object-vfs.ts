import { constants } from 'node:fs';
import type { LocalObjects, ObjectFile } from '../block/types';
import { isCachalotError } from '../errors';
import type { Logger } from '../obs/logger';
import { FileReader } from './file-reader';
import type { HeldBlocks } from './held-blocks';
import type { Namespace, Node } from './namespace';
import type { ObjectWrites, Writing } from './object-writes';
import { Attr, DirEntry, OpenFile, ReadSlices, SetattrRequest, StatFs, Vfs, VfsError } from './types';

export interface ObjectVfsOptions {
  bucket: string;
  blockSize: number;
  readaheadMax: number;
  uid: number;
  gid: number;
  fileMode: number;
  dirMode: number;
  log: Logger;
  onOpenFilesChange?: (count: number) => void;
}

interface ReadHandle {
  path: string;
  reader: FileReader;
  /** The object's file on the cache disk, held for this handle (OpenFile.localFd). */
  local?: ObjectFile;
}

type Handle = ReadHandle | Writing;

const WRITE_FLAGS = constants.O_WRONLY | constants.O_RDWR | constants.O_TRUNC | constants.O_APPEND | constants.O_CREAT;

/**
 * POSIX over an object namespace: folders from prefixes, files read block by
 * block, and written through `writes` (none: a read-only mount, EROFS).
 */
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
    private readonly writes?: ObjectWrites,
  ) {}

  async getattr(path: string): Promise<Attr> {
    const writer = this.writes?.pending(path);
    if (writer) return this.attrOf({ kind: 'file', key: '', etag: '', size: writer.length, mtime: new Date() });
    const node = await this.namespace.lookup(path);
    if (!node) throw new VfsError('ENOENT', `${path}: not found`);
    return this.attrOf(node);
  }

  async readdir(path: string): Promise<DirEntry[]> {
    const entries = await this.namespace.list(path);
    const listed = [...entries].map(([name, node]) => ({ name, attr: this.attrOf(node) }));
    const pending = (this.writes?.pendingIn(path) ?? []).filter(([name]) => !entries.has(name));
    return [...listed, ...(await Promise.all(pending.map(async ([name]) => ({ name, attr: await this.getattr(path === '/' ? `/${name}` : `${path}/${name}`) }))))];
  }

  async open(path: string, flags: number, local = false): Promise<OpenFile> {
    if (this.draining) throw new VfsError('ENOTCONN', `${path}: the filesystem is shutting down`);
    const node = await this.namespace.lookup(path);
    if (flags & WRITE_FLAGS) return this.beginWrite(path, node, flags);
    if (!node) throw new VfsError('ENOENT', `${path}: not found`);
    if (node.kind === 'dir') throw new VfsError('EISDIR', `${path}: is a directory`);
    const file = local ? await this.localObjects?.openObject({ bucket: this.options.bucket, key: node.key, etag: node.etag, size: node.size }) : undefined;
    const handle = this.nextHandle++;
    const reader = new FileReader(node, this.blocks, this.options);
    this.handles.set(handle, { path, reader, local: file });
    this.options.onOpenFilesChange?.(this.handles.size);
    return { handle, attr: this.attrOf(node), localFd: file?.fd };
  }

  async create(path: string, flags: number): Promise<OpenFile> {
    if (this.draining) throw new VfsError('ENOTCONN', `${path}: the filesystem is shutting down`);
    return this.beginWrite(path, this.writes?.pending(path) ? undefined : await this.namespace.lookup(path), flags);
  }

  async write(handle: number, data: Buffer, position: number): Promise<number> {
    return this.writing(handle).writer.write(data, position);
  }

  async flush(handle: number, pid: number): Promise<void> {
    const open = this.handles.get(handle);
    if (open && 'writer' in open) await this.writes!.flush(open, pid);
  }

  async fsync(handle: number): Promise<void> {
    const open = this.handles.get(handle);
    if (open && 'writer' in open) await this.writes!.store(open);
  }

  async setattr(path: string, request: SetattrRequest): Promise<Attr> {
    const attr = await this.getattr(path);
    if (request.size !== undefined && request.size !== attr.size) {
      // Objects are written whole: a file being written is only ever truncated to what it holds.
      throw new VfsError('ENOTSUP', `${path}: truncating to ${request.size} bytes is not supported (objects are written whole)`);
    }
    return attr;
  }

  async mkdir(path: string): Promise<Attr> {
    await this.writable(path).mkdir(path, await this.namespace.lookup(path));
    return this.getattr(path);
  }

  async unlink(path: string): Promise<void> {
    await this.writable(path).unlink(path, await this.namespace.lookup(path));
  }

  async rmdir(path: string): Promise<void> {
    await this.writable(path).rmdir(path, await this.namespace.lookup(path));
  }

  async rename(from: string, to: string, noReplace: boolean): Promise<void> {
    const writes = this.writable(from);
    const [source, target] = await Promise.all([this.namespace.lookup(from), this.namespace.lookup(to)]);
    await writes.rename(from, to, source, target, noReplace);
  }

  async read(handle: number, length: number, position: number): Promise<ReadSlices> {
    const open = this.handles.get(handle);
    if (!open) throw new VfsError('EBADF', `handle ${handle} is not open`);
    if ('writer' in open) {
      const bytes = open.writer.read(length, position);
      return { buffers: [bytes], bytes: bytes.length, release: () => undefined };
    }
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
    this.handles.delete(handle);
    if (open && 'writer' in open) {
      await this.writes!.end(open);
    } else {
      open?.reader.close();
      open?.local?.release();
    }
    this.options.onOpenFilesChange?.(this.handles.size);
  }

  statfs(): StatFs {
    // S3 has no capacity; report a large, constant one so tools that check free space go on.
    return { blockSize: 4096, blocks: 2 ** 40 / 4096, blocksFree: 2 ** 40 / 4096, files: 2 ** 31, nameMax: 255 };
  }

  async close(): Promise<void> {
    for (const handle of [...this.handles.keys()]) await this.release(handle);
  }

  private writable(path: string): ObjectWrites {
    if (!this.writes) throw new VfsError('EROFS', `${path}: read-only file system`);
    return this.writes;
  }

  private writing(handle: number): Writing {
    const open = this.handles.get(handle);
    if (!open) throw new VfsError('EBADF', `handle ${handle} is not open`);
    if (!('writer' in open)) throw new VfsError('EBADF', `handle ${handle} is not open for writing`);
    return open;
  }

  private beginWrite(path: string, node: Node | undefined, flags: number): OpenFile {
    const writing = this.writable(path).begin(path, node, flags);
    const handle = this.nextHandle++;
    this.handles.set(handle, writing);
    this.options.onOpenFilesChange?.(this.handles.size);
    return { handle, attr: this.attrOf({ kind: 'file', key: '', etag: '', size: 0, mtime: new Date() }) };
  }

  private attrOf(node: Node): Attr {
    const { uid, gid, fileMode, dirMode } = this.options;
    if (node.kind === 'dir') {
      return { kind: 'dir', size: 4096, mtime: this.mountedAt, mode: dirMode, uid, gid };
    }
    return { kind: 'file', size: node.size, mtime: node.mtime, mode: fileMode, uid, gid };
  }
}
