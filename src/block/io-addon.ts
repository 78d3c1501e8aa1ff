import { resolve } from 'node:path';

const ADDON = resolve(__dirname, '../../../native/io/build/Release/cachalot_io.node');

/** native/io (native/README.md): block memory and its checksum. */
export interface IoAddon {
  alignedBuffer(size: number, alignment: number): Buffer;
  addressOf(buffer: Buffer): bigint;
  bufferAt(address: bigint, length: number): Buffer;
  crc32c(bytes: Uint8Array, initial?: number): number;
}

let addon: IoAddon | undefined;

export function io(): IoAddon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (addon ??= require(ADDON) as IoAddon);
}
