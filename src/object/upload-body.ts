import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { CachalotError } from '../errors';
import type { UploadBody } from './types';

/** Bytes in an upload body. */
export function bodyLength(body: UploadBody): number {
  return Buffer.isBuffer(body) ? body.length : body.end - body.start;
}

/**
 * One attempt's body as a request sends it: the buffer, or a stream of the
 * file range opened now (so that each retry reads the bytes again instead of
 * holding them). A file that cannot be read or is shorter than the range is
 * an Internal error, never retried: the bytes are not there to send. Whoever
 * gets a stream destroys it when the request settles, sent or not.
 */
export async function openBody(body: UploadBody): Promise<Buffer | Readable> {
  if (Buffer.isBuffer(body)) return body;
  if (body.end === body.start) return Buffer.alloc(0);
  const file = await fileOf(body);
  return file.createReadStream({ start: body.start, end: body.end - 1 });
}

/** The body's bytes now, in a buffer of their own (later changes to a caller's buffer or file do not show). */
export async function readBody(body: UploadBody): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return Buffer.from(body);
  const bytes = Buffer.alloc(body.end - body.start);
  if (bytes.length === 0) return bytes;
  const file = await fileOf(body);
  try {
    // One read(2) returns at most about 2 GiB, and may return less.
    for (let at = 0; at < bytes.length; ) {
      const { bytesRead } = await file.read(bytes, at, bytes.length - at, body.start + at);
      if (bytesRead === 0) throw new CachalotError('Internal', `${describe(body)}: the file ended after ${at} bytes`);
      at += bytesRead;
    }
    return bytes;
  } finally {
    await file.close();
  }
}

/** The file of a range, open and checked to hold the whole range. */
async function fileOf(body: { path: string; start: number; end: number }) {
  let file;
  try {
    file = await open(body.path, 'r');
    const { size } = await file.stat();
    if (size < body.end) throw new Error(`the file holds only ${size} bytes`);
    return file;
  } catch (err) {
    await file?.close();
    throw new CachalotError('Internal', `${describe(body)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function describe(body: { path: string; start: number; end: number }): string {
  return `upload body ${body.path} bytes ${body.start}-${body.end}`;
}
