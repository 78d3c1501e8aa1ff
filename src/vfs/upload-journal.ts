import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import type { ObjectStore } from '../object/types';

/** What is known of one file being written: its spool, and its multipart upload once started. */
export interface UploadRecord {
  key: string;
  uploadId?: string;
}

/**
 * Files being written, in CACHE_DIR/uploads/: each one's spool (ID.spool,
 * the bytes written so far, which its parts are sent from) and record
 * (ID.json, its key and multipart upload). A daemon killed while a file was
 * being written leaves both; the next start aborts the upload, so that its
 * parts do not linger (and cost) in the bucket, and deletes the spool: no
 * partial object is ever completed. The record is written once S3 has given
 * the upload's id: a kill between the two leaves an upload only a lifecycle
 * rule (AbortIncompleteMultipartUpload) removes (docs/WRITES.md).
 */
export class UploadJournal {
  private constructor(readonly dir: string) {}

  /** Opens the journal under cacheDir, first aborting what a daemon before this one left. */
  static async open(cacheDir: string, store: ObjectStore, log: Pick<Logger, 'info' | 'warn'>): Promise<UploadJournal> {
    const dir = join(cacheDir, 'uploads');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const names = readdirSync(dir);
    let aborted = 0;
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const record = readRecord(join(dir, name));
      if (record?.uploadId) {
        try {
          await store.abortMultipartUpload(record.key, record.uploadId);
          aborted++;
        } catch (err) {
          // Kept: the next start tries again.
          log.warn({ key: record.key, uploadId: record.uploadId, err: oneLine(err) }, 'could not abort an upload left by a killed daemon; trying again at the next start');
          continue;
        }
      }
      rmSync(join(dir, name), { force: true });
    }
    for (const name of names.filter((n) => n.endsWith('.spool'))) rmSync(join(dir, name), { force: true });
    if (names.length > 0) log.info({ aborted, left: names.length }, 'files being written when the last daemon stopped were dropped; their uploads aborted');
    return new UploadJournal(dir);
  }

  /** A new file being written: its id, and the path of its spool. */
  begin(): { id: string; spool: string } {
    const id = randomUUID();
    return { id, spool: join(this.dir, `${id}.spool`) };
  }

  /** Records the file's upload (synchronously: it must be on disk before any part is sent). */
  record(id: string, record: UploadRecord): void {
    writeFileSync(join(this.dir, `${id}.json`), JSON.stringify(record), { mode: 0o600 });
  }

  /** The upload is completed or aborted: nothing to undo at the next start. */
  forget(id: string): void {
    rmSync(join(this.dir, `${id}.json`), { force: true });
  }
}

function readRecord(path: string): UploadRecord | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as UploadRecord;
    return typeof value.key === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
