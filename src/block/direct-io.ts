import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DIRECT_IO_ALIGNMENT } from './native-memory';

const { O_CREAT, O_DIRECT, O_TRUNC, O_WRONLY } = constants;

/** Rounded up to whole pages: what O_DIRECT transfers. */
export const directLength = (length: number) => Math.ceil(length / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;

/**
 * Whether files under `dir` can be opened with O_DIRECT. Some filesystems
 * refuse (EINVAL); a probe that fails for another reason (a full disk) says
 * no as well: the page cache path works wherever files can be written at all.
 */
export async function supportsDirectIo(dir: string): Promise<boolean> {
  const probe = join(dir, `.direct-io-probe-${process.pid}`);
  try {
    await (await open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0o600)).close();
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

/**
 * Writes bytes[0, length) at `position` (page-aligned) of a file opened
 * with O_DIRECT: `memory` is page-aligned and at least directLength(length)
 * long, and the write is rounded up to whole pages; the caller truncates a
 * file whose end that passes.
 */
export async function writeDirectAt(handle: FileHandle, memory: Buffer, length: number, position: number): Promise<void> {
  const padded = directLength(length);
  for (let offset = 0; offset < padded; ) {
    const { bytesWritten } = await handle.write(memory, offset, padded - offset, position + offset);
    offset += bytesWritten;
    if (offset < padded && offset % DIRECT_IO_ALIGNMENT !== 0) throw new Error(`short direct write: ${offset} of ${padded} bytes`);
  }
}

/** Reads `length` bytes at `position` (page-aligned) of a file opened with O_DIRECT into memory[0, length); `memory` as for writeDirectAt. */
export async function readDirectAt(handle: FileHandle, memory: Buffer, length: number, position: number): Promise<void> {
  const padded = directLength(length);
  for (let offset = 0; offset < length; ) {
    const { bytesRead } = await handle.read(memory, offset, padded - offset, position + offset);
    if (bytesRead === 0) throw new Error(`short file: ${offset} of ${length} bytes`);
    offset += bytesRead;
    if (offset < length && offset % DIRECT_IO_ALIGNMENT !== 0) throw new Error(`short direct read: ${offset} of ${length} bytes`);
  }
}
