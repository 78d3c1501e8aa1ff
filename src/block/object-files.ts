import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { link, open, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlockBuffer } from './block-buffer';
import { readDirectAt, writeDirectAt } from './direct-io';
import { io } from '../io-addon';

const { O_CREAT, O_DIRECT, O_RDONLY, O_WRONLY } = constants;

/** Where object files live under the cache dir, in 256 folders that keep each one small. */
export const OBJECTS_DIR = 'objects';
export const OBJECT_SHARDS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * The object version a block key (blockKey: bucket, key, ETag, index joined
 * by NUL) belongs to: the key without its index.
 */
export function objectKeyOf(blockKey: string): string {
  return blockKey.slice(0, blockKey.lastIndexOf('\0'));
}

/** The block's index within its object, from its block key. */
export function blockIndexOf(blockKey: string): number {
  return Number(blockKey.slice(blockKey.lastIndexOf('\0') + 1));
}

/** The object version's file, relative to the cache dir: named by the SHA-1 of its object key. */
export function objectFile(objectKey: string): string {
  const hash = createHash('sha1').update(objectKey).digest('hex');
  return join(OBJECTS_DIR, hash.slice(0, 2), hash);
}

/**
 * The disk tier's bytes: one sparse file per object version, each cached
 * block at its own offset (index x block size), holes where blocks are not
 * cached. A file whose blocks are all there is the object itself, which the
 * kernel can read directly (FUSE passthrough). What is present, and each
 * block's CRC32C, is the index's to say (disk-index.ts), not the file's.
 *
 * Blocks are written and read with O_DIRECT where the filesystem has it: no
 * copy into the page cache, and no second copy of the cache in memory. An
 * object's last block, if not a whole number of pages, is written padded and
 * the file cut back to the object's size.
 */
export class ObjectFiles {
  constructor(
    private readonly dir: string,
    private readonly blockSize: number,
    private readonly directIo: boolean,
  ) {}

  path(objectKey: string): string {
    return join(this.dir, objectFile(objectKey));
  }

  async writeBlock(objectKey: string, index: number, block: BlockBuffer): Promise<void> {
    const position = index * this.blockSize;
    const { bytes } = block;
    const direct = this.directIo ? block.directMemory : undefined;
    const handle = await open(this.path(objectKey), O_WRONLY | O_CREAT | (direct ? O_DIRECT : 0), 0o600);
    try {
      if (direct) await writeDirectAt(handle, direct, bytes.length, position);
      else await writeAll(handle, bytes, position);
      // Only an object's last block is short: the file ends where it does (not where its padding did).
      if (bytes.length < this.blockSize) await handle.truncate(position + bytes.length);
    } finally {
      await handle.close();
    }
  }

  /** Reads the block's `block.bytes.length` bytes; a file shorter than that fails. */
  async readBlock(objectKey: string, index: number, block: BlockBuffer): Promise<void> {
    const position = index * this.blockSize;
    const { bytes } = block;
    const direct = this.directIo ? block.directMemory : undefined;
    const handle = await open(this.path(objectKey), O_RDONLY | (direct ? O_DIRECT : 0));
    try {
      if (direct) await readDirectAt(handle, direct, bytes.length, position);
      else await readAll(handle, bytes, position);
    } finally {
      await handle.close();
    }
  }

  /** Frees the disk space of one block's bytes, the file's size unchanged; no file, nothing to do. */
  async punchBlock(objectKey: string, index: number, length: number): Promise<void> {
    const handle = await open(this.path(objectKey), O_WRONLY).catch(unlessMissing);
    if (!handle) return;
    try {
      await io().punchHole(handle.fd, index * this.blockSize, length);
    } finally {
      await handle.close();
    }
  }

  /** Disk space the file takes (0 for none, or no file): its data, not its size. */
  async allocatedBytes(objectKey: string): Promise<number> {
    const info = await stat(this.path(objectKey)).catch(() => undefined);
    return info ? info.blocks * 512 : 0;
  }

  /** Links the file at `path` in as the object's (replacing a leftover of the same name). */
  async link(objectKey: string, path: string): Promise<void> {
    await this.remove(objectKey);
    await link(path, this.path(objectKey));
  }

  async remove(objectKey: string): Promise<void> {
    await rm(this.path(objectKey)).catch(unlessMissing);
  }

  /** Has the kernel read the whole file into the page cache, in the background. */
  async readAhead(objectKey: string): Promise<void> {
    const handle = await this.openForReading(objectKey);
    try {
      await io().readAhead(handle.fd, 0, 0);
    } finally {
      await handle.close();
    }
  }

  /**
   * A descriptor of the file for reading through the page cache (what a
   * passthrough reader gets), when it is there and `size` bytes long.
   * Synchronous: an open and an fstat of a local file take microseconds,
   * less than a round trip through libuv's thread pool each, and this is on
   * the path of every open of a cached file.
   */
  openDescriptor(objectKey: string, size: number): number | undefined {
    let fd: number;
    try {
      fd = openSync(this.path(objectKey), O_RDONLY);
    } catch {
      return undefined;
    }
    if (fstatSync(fd).size === size) return fd;
    closeSync(fd);
    return undefined;
  }

  /** The file, opened for reading through the page cache. */
  openForReading(objectKey: string): Promise<FileHandle> {
    return open(this.path(objectKey), O_RDONLY);
  }
}

/** Lets a missing file (or folder on its path) pass as undefined; rethrows anything else. */
function unlessMissing(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
  throw err;
}

async function writeAll(handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, position + offset);
    offset += bytesWritten;
  }
}

async function readAll(handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesRead } = await handle.read(bytes, offset, bytes.length - offset, position + offset);
    if (bytesRead === 0) throw new Error(`short file: ${offset} of ${bytes.length} bytes`);
    offset += bytesRead;
  }
}
