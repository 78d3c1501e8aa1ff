import { constants } from 'node:fs';
import type { Slots } from '../block/slots';
import type { LocalObjects } from '../block/types';
import { isCachalotError, oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import type { ObjectStore } from '../object/types';
import { killedBySignal } from './closing-process';
import { FileWriter } from './file-writer';
import { DIR, type FileNode, type Namespace, type Node, splitPath } from './namespace';
import { VfsError } from './types';
import type { UploadJournal } from './upload-journal';

export interface WriteOptions {
  bucket: string;
  /** The store writes go to: with retries (and metrics). */
  store: ObjectStore;
  journal: UploadJournal;
  /** Parts being sent at once, all files together. */
  uploads: Slots;
  blockSize: number;
  /** Whether an existing object may be replaced (open with O_TRUNC, rename onto it). */
  allowOverwrite: boolean;
  log: Logger;
  /** The disk tier: what this node writes is cached here (read after write is local). */
  local?: LocalObjects;
  onPart?: (bytes: number) => void;
  onUpload?: (outcome: 'completed' | 'failed' | 'aborted', bytes: number) => void;
  /** A folder's listing changed in S3 through this node (its key prefix, "" for the bucket's root): for the other nodes of a cluster. */
  onChanged?: (folderKey: string) => void;
}

/** A file being written, under the path it is written to. */
export interface Writing {
  path: string;
  writer: FileWriter;
}

const { O_APPEND, O_EXCL, O_TRUNC } = constants;

/**
 * The write side of the VFS (docs/WRITES.md): new files, written
 * sequentially, stored whole in S3 when closed; folders as markers; unlink,
 * rmdir; rename of files as copy + delete. Each S3 change is recorded in the
 * namespace at once (this node sees it without waiting for a TTL) and what
 * this node wrote goes into its disk tier. Replacing an existing object takes
 * `allowOverwrite`; appending to one, or writing anywhere but at the end of a
 * new file, is refused (ENOTSUP): objects are written whole.
 */
export class ObjectWrites {
  /** Files being written, by path: at most one writer each. */
  private readonly writing = new Map<string, FileWriter>();

  constructor(
    private readonly namespace: Namespace,
    private readonly options: WriteOptions,
  ) {}

  /** The file being written at path, if one is. */
  pending(path: string): FileWriter | undefined {
    return this.writing.get(path);
  }

  /** Names being written in a folder (not yet stored, so not yet listed). */
  pendingIn(folder: string): Array<[string, FileWriter]> {
    return [...this.writing].filter(([path]) => splitPath(path).parent === folder).map(([path, writer]) => [splitPath(path).name, writer]);
  }

  /** A writer for path: new (`existing` undefined), or replacing an object with O_TRUNC. */
  begin(path: string, existing: Node | undefined, flags: number): Writing {
    if (existing?.kind === 'dir') throw new VfsError('EISDIR', `${path}: is a directory`);
    if (this.writing.has(path)) throw new VfsError('EBUSY', `${path}: being written by another open file`);
    if (flags & O_APPEND) throw new VfsError('ENOTSUP', `${path}: appending is not supported: objects are written whole`);
    if (existing) {
      if (flags & O_EXCL) throw new VfsError('EEXIST', `${path}: exists`);
      if (!(flags & O_TRUNC)) throw new VfsError('ENOTSUP', `${path}: an existing object is only replaced whole (open it with O_TRUNC)`);
      this.mayReplace(path);
    }
    const writer = new FileWriter({ ...this.options, key: this.namespace.keyOf(path) });
    this.writing.set(path, writer);
    return { path, writer };
  }

  /**
   * A descriptor was closed: stores the file (a killed writer's file is
   * dropped instead: no partial object), records it in the namespace and
   * hands its bytes to the disk tier.
   */
  async flush(file: Writing, pid: number): Promise<void> {
    if (killedBySignal(pid)) {
      if (!file.writer.current) {
        this.options.log.warn({ key: this.namespace.keyOf(file.path), bytes: file.writer.length }, 'writer killed before closing the file; not stored');
        file.writer.abort('the writing process was killed');
      }
      return;
    }
    await this.store(file);
  }

  async store(file: Writing): Promise<void> {
    const known = file.writer.current;
    const stored = await file.writer.flush();
    if (known === stored) return;
    const key = this.namespace.keyOf(file.path);
    this.recorded(file.path, { kind: 'file', key, size: stored.size, etag: stored.etag, mtime: new Date() });
    await this.options.local?.adoptObject({ bucket: this.options.bucket, key, etag: stored.etag, size: stored.size }, stored.spool, stored.blockCrcs);
  }

  /** The last open file of a writer is gone: what was not stored is dropped. */
  async end(file: Writing): Promise<void> {
    if (this.writing.get(file.path) === file.writer) this.writing.delete(file.path);
    await file.writer.close();
  }

  async mkdir(path: string, existing: Node | undefined): Promise<void> {
    if (existing || this.writing.has(path)) throw new VfsError('EEXIST', `${path}: exists`);
    await this.s3(path, () => this.options.store.putObject({ key: this.namespace.keyOf(path) + '/', body: Buffer.alloc(0) }));
    this.recorded(path, DIR);
  }

  async unlink(path: string, node: Node | undefined): Promise<void> {
    if (this.writing.has(path)) throw new VfsError('EBUSY', `${path}: being written`);
    if (!node) throw new VfsError('ENOENT', `${path}: not found`);
    if (node.kind === 'dir') throw new VfsError('EISDIR', `${path}: is a directory`);
    await this.s3(path, () => this.options.store.deleteObject(node.key));
    this.recorded(path, undefined);
  }

  /** Only an empty folder: its marker goes (a folder without one has children, or does not exist). */
  async rmdir(path: string, node: Node | undefined): Promise<void> {
    if (!node) throw new VfsError('ENOENT', `${path}: not found`);
    if (node.kind !== 'dir') throw new VfsError('ENOTDIR', `${path}: not a directory`);
    const marker = this.namespace.keyOf(path) + '/';
    const inside = await this.s3(path, () => this.options.store.list({ prefix: marker, maxKeys: 2 }));
    if (inside.prefixes.length > 0 || inside.objects.some((o) => o.key !== marker) || this.pendingIn(path).length > 0) {
      throw new VfsError('ENOTEMPTY', `${path}: not empty`);
    }
    await this.s3(path, () => this.options.store.deleteObject(marker));
    this.recorded(path, undefined);
  }

  /** A file moved: copied (its ETag checked), then the source deleted. Not atomic (docs/WRITES.md). */
  async rename(from: string, to: string, source: Node | undefined, target: Node | undefined, noReplace: boolean): Promise<void> {
    if (!source) throw new VfsError('ENOENT', `${from}: not found`);
    if (source.kind === 'dir') throw new VfsError('EXDEV', `${from}: folders are not renamed (a folder is every key under its prefix); copy it instead`);
    if (this.writing.has(from) || this.writing.has(to)) throw new VfsError('EBUSY', `${this.writing.has(from) ? from : to}: being written`);
    if (target?.kind === 'dir') throw new VfsError('EISDIR', `${to}: is a directory`);
    if (target && noReplace) throw new VfsError('EEXIST', `${to}: exists`);
    if (target) this.mayReplace(to);
    const key = this.namespace.keyOf(to);
    const copied = await this.s3(from, () => this.options.store.copyObject({ from: source.key, to: key, size: source.size, ifMatch: source.etag }));
    const moved: FileNode = { ...source, key, etag: copied.etag, mtime: new Date() };
    this.recorded(to, moved);
    await this.s3(from, () => this.options.store.deleteObject(source.key));
    this.recorded(from, undefined);
    const { bucket } = this.options;
    await this.options.local?.copyObject({ bucket, key: source.key, etag: source.etag, size: source.size }, { bucket, key, etag: copied.etag, size: source.size });
  }

  /** What this node changed in S3 at path: known here at once, and told to the cluster. */
  private recorded(path: string, node: Node | undefined): void {
    this.namespace.record(path, node);
    const { parent } = splitPath(path);
    this.options.onChanged?.(parent === '/' ? this.namespace.keyOf('/') : this.namespace.keyOf(parent) + '/');
  }

  private mayReplace(path: string): void {
    if (this.options.allowOverwrite) return;
    this.options.log.warn({ key: this.namespace.keyOf(path) }, 'refused to replace an existing object (mount with --allow-overwrite to allow it)');
    throw new VfsError('EPERM', `${path}: exists, and replacing objects is not allowed (--allow-overwrite)`);
  }

  /** An S3 request for path: its failure is EIO with one log line (a missing key is ENOENT). */
  private async s3<T>(path: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      if (isCachalotError(err, 'NotFound')) throw new VfsError('ENOENT', `${path}: not found`, { cause: err });
      if (isCachalotError(err, 'PreconditionFailed')) throw new VfsError('EIO', `${path}: changed in S3 meanwhile`, { cause: err });
      this.options.log.error({ path, err: oneLine(err) }, 'S3 request failed');
      throw new VfsError('EIO', `${path}: ${oneLine(err)}`, { cause: err });
    }
  }
}
