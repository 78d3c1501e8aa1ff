import { closeSync, copyFileSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { crc32c } from '../block/crc32c';
import type { Slots } from '../block/slots';
import { oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import { MAX_PARTS, partSize } from '../object/multipart-parts';
import type { CompletedPart, ObjectStore, Written } from '../object/types';
import { VfsError } from './types';
import type { UploadJournal } from './upload-journal';

export interface FileWriterOptions {
  store: ObjectStore;
  journal: UploadJournal;
  key: string;
  /** The disk tier's block size: the checksums of the bytes written are kept per block, for the tier to adopt them. */
  blockSize: number;
  /** Parts being sent, all files together. */
  uploads: Slots;
  log: Pick<Logger, 'warn'>;
  /** Each part sent, and each upload's end (completed, failed, aborted). */
  onPart?: (bytes: number) => void;
  onUpload?: (outcome: 'completed' | 'failed' | 'aborted', bytes: number) => void;
}

/** An object just stored: what S3 said of it, with the file that holds its bytes and their block checksums. */
export interface Stored {
  etag: string;
  size: number;
  spool: string;
  blockCrcs: number[];
}

/** Parts of one file in flight at once: enough to keep a connection busy per file without one file taking every slot. */
const PARTS_IN_FLIGHT = 4;

/**
 * One file being written, sequentially. Its bytes go to a spool file on the
 * cache disk as they come (a write is a local write: no memory held for
 * them), and from there to S3: a multipart upload starts once the first
 * part's worth is written, each part sent from the spool while the writer
 * goes on (part sizes: object/multipart-parts.ts). flush() stores the
 * object: the last part and CompleteMultipartUpload, or one PUT for a file
 * smaller than a part. Only then does the key show the new bytes; until
 * then it shows what it showed before (nothing, or the old object).
 *
 * A write anywhere but at the end (an append to the past, a seek) is
 * refused (ENOTSUP) and the upload dropped: objects are written whole. A
 * part that fails after the store's retries fails the next write, flush or
 * fsync with EIO, never silently. Writes after a flush start the upload
 * over from the spool, which holds the whole file.
 */
export class FileWriter {
  private readonly id: string;
  private spoolPath: string;
  private fd: number;
  private size = 0;
  private readonly blockCrcs: number[] = [];
  private blockCrc = 0;
  private upload?: Promise<string>;
  private parts: CompletedPart[] = [];
  private nextPart = 1;
  private partStart = 0;
  private readonly sending = new Set<Promise<void>>();
  private readonly partQueue: Array<() => Promise<void>> = [];
  private failure?: VfsError;
  private stored?: Stored;
  /** A flush under way: writes wait for it, so that what it stores is what was written before it. */
  private flushing?: Promise<Stored>;

  constructor(private readonly options: FileWriterOptions) {
    const { id, spool } = options.journal.begin();
    this.id = id;
    this.spoolPath = spool;
    this.fd = openSync(spool, 'w+', 0o600);
  }

  /** The file holding the bytes written so far. */
  get spool(): string {
    return this.spoolPath;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.size;
  }

  /** The object as stored by the last flush, while nothing was written since. */
  get current(): Stored | undefined {
    return this.stored;
  }

  async write(data: Buffer, position: number): Promise<number> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.failure) throw this.failure;
    if (position !== this.size) {
      this.fail(new VfsError('ENOTSUP', `${this.options.key}: write at ${position}, the file ends at ${this.size}: objects are written sequentially, from the start`));
      throw this.failure;
    }
    if (this.stored) this.reopen();
    for (let done = 0; done < data.length; ) done += writeSync(this.fd, data, done, data.length - done, this.size + done);
    this.checksum(data);
    this.size += data.length;
    this.sendFullParts();
    return data.length;
  }

  /** Bytes written so far at [position, position + length): a file open for reading and writing reads its own bytes. */
  read(length: number, position: number): Buffer {
    const bytes = Buffer.alloc(Math.max(0, Math.min(this.size, position + length) - position));
    for (let done = 0; done < bytes.length; ) done += readSync(this.fd, bytes, done, bytes.length - done, position + done);
    return bytes;
  }

  /** Stores what was written (if anything changed since the last flush); EIO if S3 would not take it. */
  flush(): Promise<Stored> {
    if (this.stored) return Promise.resolve(this.stored);
    if (this.failure) return Promise.reject(this.failure);
    return (this.flushing ??= this.store().finally(() => (this.flushing = undefined)));
  }

  private async store(): Promise<Stored> {
    let written: Written;
    try {
      if (this.upload) {
        if (this.size > this.partStart || this.nextPart === 1) this.queuePart(this.nextPart++, this.partStart, this.size);
        await this.drain();
        if (this.failure) throw this.failure;
        const uploadId = await this.upload;
        written = await this.options.store.completeMultipartUpload({ key: this.options.key, uploadId, parts: [...this.parts].sort((a, b) => a.partNumber - b.partNumber) });
        this.options.journal.forget(this.id);
      } else {
        const body = this.size === 0 ? Buffer.alloc(0) : { path: this.spoolPath, start: 0, end: this.size };
        written = await this.options.store.putObject({ key: this.options.key, body });
        this.options.onPart?.(this.size);
      }
    } catch (err) {
      this.fail(asEio(this.options.key, err));
      throw this.failure;
    }
    this.options.onUpload?.('completed', this.size);
    this.stored = { etag: written.etag, size: this.size, spool: this.spoolPath, blockCrcs: [...this.blockCrcs, ...(this.size % this.options.blockSize ? [this.blockCrc] : [])] };
    return this.stored;
  }

  /**
   * Drops what is not stored (the upload aborted), and the spool's name (a
   * disk tier that took the stored object linked it under a name of its own).
   */
  async close(): Promise<void> {
    await this.flushing?.catch(() => undefined);
    if (!this.stored && !this.failure) this.fail(new VfsError('EIO', `${this.options.key}: closed without being stored`), 'aborted');
    await this.drain();
    closeSync(this.fd);
    rmSync(this.spoolPath, { force: true });
  }

  /** Drops the upload: the key keeps what it had. */
  abort(why: string): void {
    this.fail(new VfsError('EIO', `${this.options.key}: ${why}`), 'aborted');
  }

  private fail(error: VfsError, outcome: 'failed' | 'aborted' = 'failed'): void {
    if (this.failure) return;
    this.failure = error;
    this.partQueue.length = 0;
    this.options.onUpload?.(outcome, this.size);
    // An upload that never started has nothing to abort.
    void this.upload?.then(
      (uploadId) =>
        this.options.store.abortMultipartUpload(this.options.key, uploadId).then(
          () => this.options.journal.forget(this.id),
          (err) => this.options.log.warn({ key: this.options.key, err: oneLine(err) }, 'upload not aborted; the next start tries again'),
        ),
      () => undefined,
    );
  }

  /** Writes after a flush: the stored object's spool may be the disk tier's now, so the file goes on in a copy of it, uploaded anew. */
  private reopen(): void {
    const { spool } = this.options.journal.begin();
    closeSync(this.fd);
    copyFileSync(this.spoolPath, spool);
    rmSync(this.spoolPath, { force: true });
    this.spoolPath = spool;
    this.fd = openSync(spool, 'r+', 0o600);
    this.stored = undefined;
    this.upload = undefined;
    this.parts = [];
    this.nextPart = 1;
    this.partStart = 0;
    this.sendFullParts();
  }

  private checksum(data: Buffer): void {
    const { blockSize } = this.options;
    for (let at = 0; at < data.length; ) {
      const room = blockSize - ((this.size + at) % blockSize);
      const piece = data.subarray(at, at + room);
      this.blockCrc = crc32c(piece, this.blockCrc);
      at += piece.length;
      if ((this.size + at) % blockSize === 0) {
        this.blockCrcs.push(this.blockCrc);
        this.blockCrc = 0;
      }
    }
  }

  private sendFullParts(): void {
    while (!this.failure && this.size - this.partStart >= partSize(this.nextPart, this.options.blockSize)) {
      if (this.nextPart >= MAX_PARTS) {
        this.fail(new VfsError('EIO', `${this.options.key}: larger than an S3 object may be`));
        return;
      }
      const end = this.partStart + partSize(this.nextPart, this.options.blockSize);
      this.queuePart(this.nextPart++, this.partStart, end);
      this.partStart = end;
    }
  }

  private queuePart(partNumber: number, start: number, end: number): void {
    this.upload ??= this.startUpload();
    this.partQueue.push(() => this.sendPart(partNumber, start, end));
    this.pump();
  }

  private async startUpload(): Promise<string> {
    const uploadId = await this.options.store.createMultipartUpload(this.options.key);
    this.options.journal.record(this.id, { key: this.options.key, uploadId });
    return uploadId;
  }

  private pump(): void {
    while (this.sending.size < PARTS_IN_FLIGHT && this.partQueue.length > 0) {
      const send = this.partQueue.shift()!;
      const sent = send()
        .catch((err) => this.fail(asEio(this.options.key, err)))
        .finally(() => {
          this.sending.delete(sent);
          this.pump();
        });
      this.sending.add(sent);
    }
  }

  private async sendPart(partNumber: number, start: number, end: number): Promise<void> {
    const uploadId = await this.upload!;
    await this.options.uploads.acquire();
    try {
      if (this.failure) return;
      const { etag } = await this.options.store.uploadPart({ key: this.options.key, uploadId, partNumber, body: { path: this.spoolPath, start, end } });
      this.parts.push({ partNumber, etag });
      this.options.onPart?.(end - start);
    } finally {
      this.options.uploads.release();
    }
  }

  /** Waits until no part is queued or being sent. */
  private async drain(): Promise<void> {
    while (this.sending.size > 0) await Promise.race(this.sending);
  }
}

function asEio(key: string, err: unknown): VfsError {
  return err instanceof VfsError ? err : new VfsError('EIO', `${key}: not stored in S3: ${oneLine(err)}`, { cause: err });
}
