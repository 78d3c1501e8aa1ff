import { nativeAddon } from './native-addon';

/** native/io (native/README.md): block memory and its checksum, ranges of cache files, and the lock of a directory. */
export interface IoAddon {
  alignedBuffer(size: number, alignment: number): Buffer;
  crc32c(bytes: Uint8Array, initial?: number): number;
  /** The CRC32C of a range of an open file, read through the page cache on a worker thread; rejects with the errno's code (EIO when the file ends first). */
  crc32cOfRange(fd: number, offset: number, length: number): Promise<number>;
  /** Frees a range's disk space (fallocate PUNCH_HOLE), the file's size unchanged. */
  punchHole(fd: number, offset: number, length: number): Promise<void>;
  /** Asks the kernel to read a range into the page cache (posix_fadvise WILLNEED); resolves once the reads are issued. */
  readAhead(fd: number, offset: number, length: number): Promise<void>;
  /** An exclusive flock(2) on the open file, without waiting: false when another holds it. */
  tryLock(fd: number): boolean;
}

export const io = nativeAddon<IoAddon>('io');
