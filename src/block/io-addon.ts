import { nativeAddon } from '../native-addon';

/** native/io (native/README.md): block memory and its checksum. */
export interface IoAddon {
  alignedBuffer(size: number, alignment: number): Buffer;
  crc32c(bytes: Uint8Array, initial?: number): number;
}

export const io = nativeAddon<IoAddon>('io');
