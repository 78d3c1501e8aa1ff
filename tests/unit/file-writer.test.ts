// One file written through the mount, below FUSE, against the in-memory
// store: bytes in the store equal bytes written, small files are one PUT and
// large ones a multipart upload sent while writing, an out-of-order write or a
// failing part stores nothing, writes after a flush upload the file anew, and
// the journal holds an upload exactly while it may need aborting.
import { crc32c } from '@node-rs/crc32';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, TestContext } from 'node:test';
import { Slots } from '../../src/block/slots';
import { CachalotError } from '../../src/errors';
import { silentLogger } from '../../src/obs/logger';
import { MemoryStore } from '../../src/object/memory-store';
import type { UploadPartRequest } from '../../src/object/types';
import { MAX_PARTS, partSize } from '../../src/object/multipart-parts';
import { FileWriter } from '../../src/vfs/file-writer';
import { UploadJournal } from '../../src/vfs/upload-journal';
import { patternBytes } from '../support/e2e-helpers';

const MiB = 2 ** 20;
const BLOCK = MiB;
const PART = 8 * MiB;

async function setup(t: TestContext, store = new MemoryStore('b')) {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-writer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const journal = await UploadJournal.open(dir, store, silentLogger);
  const outcomes: string[] = [];
  const writer = (key: string) =>
    new FileWriter({ store, journal, key, blockSize: BLOCK, uploads: new Slots(16), log: silentLogger, onUpload: (outcome) => outcomes.push(outcome) });
  const records = () => readdirSync(join(dir, 'uploads')).filter((n) => n.endsWith('.json'));
  return { store, writer, records, outcomes, dir };
}

async function writeAll(writer: FileWriter, bytes: Buffer, chunk = MiB): Promise<void> {
  for (let at = 0; at < bytes.length; at += chunk) await writer.write(bytes.subarray(at, at + chunk), at);
}

async function stored(store: MemoryStore, key: string): Promise<Buffer> {
  const info = await store.head(key);
  assert.ok(info, `${key} is stored`);
  return info.size === 0 ? Buffer.alloc(0) : Buffer.concat(await store.getRange({ key, start: 0, end: info.size }));
}

test('a file smaller than a part is one PUT; its block checksums are the bytes\' own', async (t) => {
  const { store, writer, records, outcomes } = await setup(t);
  const bytes = patternBytes(3 * BLOCK + 100, 1);
  const w = writer('small.bin');
  await writeAll(w, bytes, 4096 + 7);
  assert.deepEqual(records(), [], 'no multipart upload, nothing to record');
  const result = await w.flush();
  assert.ok((await stored(store, 'small.bin')).equals(bytes));
  assert.equal(result.size, bytes.length);
  assert.deepEqual(result.blockCrcs, [0, 1, 2, 3].map((i) => crc32c(bytes.subarray(i * BLOCK, (i + 1) * BLOCK))));
  assert.equal(store.calls['create-upload'], 0);
  await w.close();
  assert.equal(existsSync(result.spool), false, 'the spool is gone at close');
  assert.deepEqual(outcomes, ['completed']);
});

test('a file of several parts is a multipart upload, recorded while it runs; an empty file is an empty object', async (t) => {
  const { store, writer, records } = await setup(t);
  const bytes = patternBytes(3 * PART + 12345, 2);
  const w = writer('big.bin');
  await writeAll(w, bytes);
  assert.equal(records().length, 1, 'the upload is recorded while parts are sent');
  const { etag } = await w.flush();
  assert.match(etag, /-4"$/, 'three full parts and the tail');
  assert.ok((await stored(store, 'big.bin')).equals(bytes));
  assert.deepEqual(records(), [], 'forgotten once completed');
  await w.close();

  const empty = writer('empty.bin');
  await empty.flush();
  assert.equal((await store.head('empty.bin'))?.size, 0);
  await empty.close();
});

test('a write anywhere but at the end is ENOTSUP; nothing is stored, the upload aborted', async (t) => {
  const { store, writer, records, outcomes } = await setup(t);
  const w = writer('seek.bin');
  await writeAll(w, patternBytes(PART + 1, 3));
  await assert.rejects(w.write(Buffer.from('x'), 10), (err: { errno?: string }) => err.errno === 'ENOTSUP');
  await assert.rejects(w.flush(), (err: { errno?: string }) => err.errno === 'ENOTSUP');
  await w.close();
  assert.equal(await store.head('seek.bin'), undefined);
  assert.deepEqual(outcomes, ['failed']);
  for (let i = 0; i < 50 && records().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(records(), [], 'aborted');
});

test('a part that keeps failing fails the flush with EIO, stores nothing, and aborts the upload', async (t) => {
  class FailingParts extends MemoryStore {
    override async uploadPart(request: UploadPartRequest) {
      if (request.partNumber === 2) throw new CachalotError('ServerError', 'part 2: 500 InternalError');
      return super.uploadPart(request);
    }
  }
  const { store, writer, records } = await setup(t, new FailingParts('b'));
  const w = writer('fails.bin');
  const isPart2 = (err: { errno?: string; message: string }) => err.errno === 'EIO' && /part 2/.test(err.message);
  // The failure shows at the next write once the part has failed, or at the flush.
  await writeAll(w, patternBytes(3 * PART, 4)).catch((err) => assert.ok(isPart2(err), String(err)));
  await assert.rejects(w.flush(), isPart2);
  await w.close();
  assert.equal(await store.head('fails.bin'), undefined);
  for (let i = 0; i < 50 && records().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(records(), [], 'aborted, so nothing is left to abort at the next start');
});

test('writes after a flush upload the whole file again at the next flush', async (t) => {
  const { store, writer } = await setup(t);
  const first = patternBytes(PART + 5, 5);
  const more = patternBytes(BLOCK, 6);
  const w = writer('again.bin');
  await writeAll(w, first);
  const before = await w.flush();
  await w.write(more, first.length);
  const after = await w.flush();
  assert.notEqual(after.etag, before.etag);
  assert.ok((await stored(store, 'again.bin')).equals(Buffer.concat([first, more])));
  assert.ok(w.read(10, first.length).equals(more.subarray(0, 10)), 'the writer reads its own bytes');
  await w.close();
});

test('at open, uploads a killed daemon left are aborted and their spools deleted', async (t) => {
  const store = new MemoryStore('b');
  const { dir, writer } = await setup(t, store);
  const w = writer('left.bin');
  await writeAll(w, patternBytes(2 * PART, 7));
  await new Promise((r) => setTimeout(r, 50));
  // No close: as if the daemon died here. A new journal on the same dir cleans up.
  const aborted: string[] = [];
  const spy = Object.assign(Object.create(store) as MemoryStore, {
    abortMultipartUpload: async (key: string, uploadId: string) => {
      aborted.push(key);
      return store.abortMultipartUpload(key, uploadId);
    },
  });
  await UploadJournal.open(dir, spy, silentLogger);
  assert.deepEqual(aborted, ['left.bin']);
  assert.deepEqual(readdirSync(join(dir, 'uploads')), []);
  assert.equal(await store.head('left.bin'), undefined);
});

test('part sizes: 8 MiB (or the block size) doubling every 1,000 parts, within S3\'s bounds, so 5 TiB fits in 10,000 parts', () => {
  assert.equal(partSize(1), 8 * MiB);
  assert.equal(partSize(1000), 8 * MiB);
  assert.equal(partSize(1001), 16 * MiB);
  assert.equal(partSize(1, 64 * MiB), 64 * MiB);
  assert.equal(partSize(1, 64 * 1024), 8 * MiB, 'never below 8 MiB (S3 wants 5)');
  let total = 0;
  for (let part = 1; part <= MAX_PARTS; part++) {
    assert.ok(partSize(part) <= 5 * 2 ** 30, `part ${part} is at most 5 GiB`);
    total += partSize(part);
  }
  assert.ok(total >= 5 * 2 ** 40, `10,000 parts hold ${total} bytes`);
});
