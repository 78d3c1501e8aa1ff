import { nativeAddon } from './native-addon';

/** native/io (native/README.md): block memory and its checksum, and the lock of a directory. */
export interface IoAddon {
  alignedBuffer(size: number, alignment: number): Buffer;
  crc32c(bytes: Uint8Array, initial?: number): number;
  /** An exclusive flock(2) on the open file, without waiting: false when another holds it. */
  tryLock(fd: number): boolean;
}

export const io = nativeAddon<IoAddon>('io');
