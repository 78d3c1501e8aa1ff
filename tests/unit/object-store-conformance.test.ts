import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isCachalotError, type ErrorCode } from '../../src/errors';
import { createMetaClient } from '../../src/meta/meta-client';
import { MetaListingStore } from '../../src/meta/meta-listing-store';
import { MemoryStore } from '../../src/object/memory-store';
import { multipartEtag, type CopyPolicy } from '../../src/object/multipart';
import { S3Store } from '../../src/object/s3-store';
import type { ObjectStore } from '../../src/object/types';
import { silentLogger } from '../../src/obs/logger';
import { MiB, assertSameBytes, patternBytes } from '../support/e2e-helpers';
import { META_TOKEN, metaFixture } from '../support/meta-fixture';
import { S3Fixture, putAll, startS3Fixture } from '../support/s3-fixture';

/** The same contract, checked against every ObjectStore implementation. */
const FIXTURE_KEYS = [
  'a.txt',
  'dir/',
  'dir/one',
  'dir/two',
  'dir/sub/deep/x',
  'only-subfolders/inner/y',
  ...Array.from({ length: 25 }, (_, i) => `many/f${String(i).padStart(3, '0')}`),
];
const bytesOf = (key: string) => Buffer.from(`contents of ${key} `.repeat(key.length + 1));

/** A folder listing page by page; without maxKeys as Namespace lists (the pages the store chooses). */
async function listAll(store: ObjectStore, prefix: string, maxKeys?: number) {
  const objects: string[] = [];
  const prefixes: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 100; page++) {
    const result = await store.list({ prefix, delimiter: '/', continuationToken: token, maxKeys });
    objects.push(...result.objects.map((o) => o.key));
    prefixes.push(...result.prefixes);
    token = result.continuationToken;
    if (!token) break;
  }
  return { objects, prefixes: [...new Set(prefixes)] };
}

function conformance(name: string, open: () => Promise<{ store: ObjectStore; close(): Promise<void> }>) {
  describe(`ObjectStore conformance: ${name}`, () => {
    let store: ObjectStore;
    let close: () => Promise<void>;
    before(async () => ({ store, close } = await open()));
    after(() => close());

    test('lists a folder with delimiter: objects, markers and sub-folders', async () => {
      const root = await listAll(store, '');
      assert.deepEqual(root.objects, ['a.txt']);
      assert.deepEqual(root.prefixes.sort(), ['dir/', 'many/', 'only-subfolders/']);
      const dir = await listAll(store, 'dir/');
      assert.deepEqual(dir.objects.sort(), ['dir/', 'dir/one', 'dir/two']);
      assert.deepEqual(dir.prefixes, ['dir/sub/']);
    });

    test('a folder holding only sub-folders is a common prefix', async () => {
      const inner = await listAll(store, 'only-subfolders/');
      assert.deepEqual(inner, { objects: [], prefixes: ['only-subfolders/inner/'] });
    });

    test('paged listing returns every key once, in order', async () => {
      const paged = await listAll(store, 'many/', 7);
      assert.equal(paged.objects.length, 25);
      assert.deepEqual(paged.objects, [...paged.objects].sort());
      assert.equal(new Set(paged.objects).size, 25);
    });

    test('head gives size and ETag; a missing key is undefined', async () => {
      const info = await store.head('dir/one');
      assert.equal(info?.size, bytesOf('dir/one').length);
      assert.match(info!.etag, /^".+"$/);
      assert.equal(await store.head('no/such/key'), undefined);
    });

    test('ranged get returns exactly the range', async () => {
      const whole = bytesOf('dir/sub/deep/x');
      assert.deepEqual(await store.getRange({ key: 'dir/sub/deep/x', start: 3, end: 17 }), [whole.subarray(3, 17)]);
      assert.deepEqual(await store.getRange({ key: 'dir/sub/deep/x', start: 0, end: whole.length }), [whole]);
    });

    test('a ranged get into several buffers fills them back to back and reports each as it fills, in order', async () => {
      const whole = bytesOf('dir/sub/deep/x');
      const into = [Buffer.alloc(5), Buffer.alloc(1), Buffer.alloc(20)];
      const filled: number[] = [];
      const out = await store.getRange({ key: 'dir/sub/deep/x', start: 7, end: 33, into, onFilled: (index) => filled.push(index) });
      assert.equal(out, into);
      assert.deepEqual(filled, [0, 1, 2]);
      assert.deepEqual(Buffer.concat(into), whole.subarray(7, 33));
    });

    test('ranged get pinned to another ETag fails with PreconditionFailed, writing nothing', async () => {
      const into = [Buffer.alloc(4, 0x11)];
      await assert.rejects(
        store.getRange({ key: 'a.txt', start: 0, end: 4, ifMatch: '"0123456789abcdef0123456789abcdef"', into, onFilled: () => assert.fail('a buffer of a refused reply was reported') }),
        (err) => isCachalotError(err, 'PreconditionFailed'),
      );
      assert.ok(into[0].every((b) => b === 0x11), 'bytes of a refused reply were written');
      const etag = (await store.head('a.txt'))!.etag;
      assert.equal((await store.getRange({ key: 'a.txt', start: 0, end: 4, ifMatch: etag }))[0].length, 4);
    });

    test('get of a missing key fails with NotFound', async () => {
      await assert.rejects(store.getRange({ key: 'nope', start: 0, end: 1 }), (err) => isCachalotError(err, 'NotFound'));
    });
  });
}

/** The writes' contract, on a store of its own (its keys stay out of the listings above). */
function writeConformance(name: string, open: () => Promise<ObjectStore>) {
  describe(`ObjectStore write conformance: ${name}`, () => {
    let store: ObjectStore;
    let dir: string;
    before(async () => {
      store = await open();
      dir = mkdtempSync(join(tmpdir(), 'cachalot-writes-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** A file holding `bytes` at `offset` (other bytes around them), as a file-range body. */
    const fileRange = (bytes: Buffer, offset = 0) => {
      const path = join(dir, `body-${offset}-${bytes.length}-${md5(bytes)}`);
      writeFileSync(path, Buffer.concat([Buffer.alloc(offset, 0x5a), bytes, Buffer.alloc(7, 0xa5)]));
      return { path, start: offset, end: offset + bytes.length };
    };
    const stored = async (key: string) => {
      const info = await store.head(key);
      assert.ok(info, `${key} is there`);
      return { info, bytes: info.size === 0 ? Buffer.alloc(0) : Buffer.concat(await store.getRange({ key, start: 0, end: info.size })) };
    };
    const rejectsWith = (promise: Promise<unknown>, code: ErrorCode) => assert.rejects(promise, (err) => isCachalotError(err, code));

    test('a PUT stores the bytes under the key, its ETag their md5', async () => {
      const bytes = patternBytes(300_001, 1);
      const { etag } = await store.putObject({ key: 'put/buffer', body: bytes });
      assert.equal(etag, `"${md5(bytes)}"`);
      const { info, bytes: back } = await stored('put/buffer');
      assert.equal(info.etag, etag);
      assertSameBytes(back, bytes, 'put/buffer');
    });

    test('a PUT of a file range sends exactly that range; an empty body makes an empty object', async () => {
      const bytes = patternBytes(1_000_003, 2);
      const { etag } = await store.putObject({ key: 'put/file', body: fileRange(bytes, 4099) });
      assert.equal(etag, `"${md5(bytes)}"`);
      assertSameBytes((await stored('put/file')).bytes, bytes, 'put/file');
      for (const body of [Buffer.alloc(0), fileRange(Buffer.alloc(0), 10)]) {
        await store.putObject({ key: 'put/empty', body });
        const { info } = await stored('put/empty');
        assert.equal(info.size, 0);
        assert.equal(info.etag, `"${md5(Buffer.alloc(0))}"`);
      }
    });

    test('a PUT over a key replaces its object', async () => {
      await store.putObject({ key: 'put/again', body: Buffer.from('first') });
      await store.putObject({ key: 'put/again', body: Buffer.from('second, longer') });
      assert.equal((await stored('put/again')).bytes.toString(), 'second, longer');
    });

    test('a multipart upload appears only once completed, its bytes the parts in order, its ETag md5 of the md5s "-N"', async () => {
      const parts = [patternBytes(5 * MiB, 3), patternBytes(5 * MiB + 17, 4), patternBytes(1234, 5)];
      const uploadId = await store.createMultipartUpload('multi/object');
      // Parts arrive in any order, from buffers and file ranges.
      const written = await Promise.all([
        store.uploadPart({ key: 'multi/object', uploadId, partNumber: 3, body: parts[2] }),
        store.uploadPart({ key: 'multi/object', uploadId, partNumber: 2, body: fileRange(parts[1], 333) }),
        store.uploadPart({ key: 'multi/object', uploadId, partNumber: 1, body: parts[0] }),
      ]);
      const etags = written.reverse().map((w) => w.etag);
      assert.deepEqual(etags, parts.map((p) => `"${md5(p)}"`));
      assert.equal(await store.head('multi/object'), undefined, 'no object before Complete');
      const { etag } = await store.completeMultipartUpload({ key: 'multi/object', uploadId, parts: etags.map((e, i) => ({ partNumber: i + 1, etag: e })) });
      assert.equal(etag, multipartEtag(etags));
      assert.match(etag, /^"[0-9a-f]{32}-3"$/);
      const { info, bytes } = await stored('multi/object');
      assert.equal(info.etag, etag);
      assertSameBytes(bytes, Buffer.concat(parts), 'multi/object');
      await rejectsWith(store.completeMultipartUpload({ key: 'multi/object', uploadId, parts: [{ partNumber: 1, etag: etags[0] }] }), 'NoSuchUpload');
    });

    test('part numbers may skip; a part sent again replaces itself', async () => {
      const uploadId = await store.createMultipartUpload('multi/gaps');
      const first = patternBytes(5 * MiB, 6);
      await store.uploadPart({ key: 'multi/gaps', uploadId, partNumber: 2, body: Buffer.alloc(5 * MiB, 1) });
      const p2 = await store.uploadPart({ key: 'multi/gaps', uploadId, partNumber: 2, body: first });
      const p7 = await store.uploadPart({ key: 'multi/gaps', uploadId, partNumber: 7, body: Buffer.from('tail') });
      await store.completeMultipartUpload({ key: 'multi/gaps', uploadId, parts: [{ partNumber: 2, ...p2 }, { partNumber: 7, ...p7 }] });
      assertSameBytes((await stored('multi/gaps')).bytes, Buffer.concat([first, Buffer.from('tail')]), 'multi/gaps');
    });

    test('a part under 5 MiB that is not the last: EntityTooSmall, and the upload stays open', async () => {
      const uploadId = await store.createMultipartUpload('multi/small');
      const p1 = await store.uploadPart({ key: 'multi/small', uploadId, partNumber: 1, body: patternBytes(MiB, 7) });
      const p2 = await store.uploadPart({ key: 'multi/small', uploadId, partNumber: 2, body: patternBytes(MiB, 8) });
      await rejectsWith(store.completeMultipartUpload({ key: 'multi/small', uploadId, parts: [{ partNumber: 1, ...p1 }, { partNumber: 2, ...p2 }] }), 'EntityTooSmall');
      assert.equal(await store.head('multi/small'), undefined);
      // One small part is the last one: allowed.
      await store.completeMultipartUpload({ key: 'multi/small', uploadId, parts: [{ partNumber: 2, ...p2 }] });
      assertSameBytes((await stored('multi/small')).bytes, patternBytes(MiB, 8), 'multi/small');
    });

    test('Complete naming a part not sent, or with another ETag: InvalidPart; parts not ascending: InvalidPartOrder', async () => {
      const uploadId = await store.createMultipartUpload('multi/wrong');
      const p1 = await store.uploadPart({ key: 'multi/wrong', uploadId, partNumber: 1, body: patternBytes(5 * MiB, 9) });
      const p2 = await store.uploadPart({ key: 'multi/wrong', uploadId, partNumber: 2, body: Buffer.from('end') });
      const complete = (parts: Array<{ partNumber: number; etag: string }>) => store.completeMultipartUpload({ key: 'multi/wrong', uploadId, parts });
      await rejectsWith(complete([{ partNumber: 1, ...p1 }, { partNumber: 3, etag: p2.etag }]), 'InvalidPart');
      await rejectsWith(complete([{ partNumber: 1, etag: p2.etag }, { partNumber: 2, ...p2 }]), 'InvalidPart');
      await rejectsWith(complete([{ partNumber: 2, ...p2 }, { partNumber: 1, ...p1 }]), 'InvalidPartOrder');
      assert.equal(await store.head('multi/wrong'), undefined);
      await store.abortMultipartUpload('multi/wrong', uploadId);
    });

    test('abort drops the upload: no object, its parts refused (NoSuchUpload); abort again is no error', async () => {
      const uploadId = await store.createMultipartUpload('multi/aborted');
      const p1 = await store.uploadPart({ key: 'multi/aborted', uploadId, partNumber: 1, body: Buffer.from('some bytes') });
      await store.abortMultipartUpload('multi/aborted', uploadId);
      await rejectsWith(store.uploadPart({ key: 'multi/aborted', uploadId, partNumber: 2, body: Buffer.from('more') }), 'NoSuchUpload');
      await rejectsWith(store.completeMultipartUpload({ key: 'multi/aborted', uploadId, parts: [{ partNumber: 1, ...p1 }] }), 'NoSuchUpload');
      await store.abortMultipartUpload('multi/aborted', uploadId);
      await store.abortMultipartUpload('multi/aborted', 'no-such-upload-id');
      assert.equal(await store.head('multi/aborted'), undefined);
    });

    test('delete removes the key; deleting a key that is not there is no error', async () => {
      await store.putObject({ key: 'del/x', body: Buffer.from('x') });
      await store.deleteObject('del/x');
      assert.equal(await store.head('del/x'), undefined);
      await store.deleteObject('del/x');
      await store.deleteObject('del/never-was');
    });

    test('copy: the same bytes and ETag under the new key, the source kept; a changed or missing source refused', async () => {
      const bytes = patternBytes(200_000, 10);
      const from = 'copy/from a+b=c&d?.bin';
      const { etag } = await store.putObject({ key: from, body: bytes });
      const copied = await store.copyObject({ from, to: 'copy/to', size: bytes.length, ifMatch: etag });
      assert.equal(copied.etag, etag);
      const { info, bytes: back } = await stored('copy/to');
      assert.equal(info.etag, etag);
      assertSameBytes(back, bytes, 'copy/to');
      assert.equal((await store.head(from))?.etag, etag, 'the source is kept');
      await rejectsWith(store.copyObject({ from, to: 'copy/stale', size: bytes.length, ifMatch: `"${md5(Buffer.from('other'))}"` }), 'PreconditionFailed');
      assert.equal(await store.head('copy/stale'), undefined);
      await rejectsWith(store.copyObject({ from: 'copy/none', to: 'copy/none-to', size: 1 }), 'NotFound');
    });

    test(`a copy above the single-copy limit goes as part copies: the same bytes, a multipart ETag`, async () => {
      const bytes = patternBytes(2 * COPY_POLICY.partSize + 3, 11);
      const { etag } = await store.putObject({ key: 'copy/big', body: bytes });
      const partEtags = [0, 1, 2].map((i) => `"${md5(bytes.subarray(i * COPY_POLICY.partSize, (i + 1) * COPY_POLICY.partSize))}"`);
      const copied = await store.copyObject({ from: 'copy/big', to: 'copy/big-to', size: bytes.length, ifMatch: etag });
      assert.equal(copied.etag, multipartEtag(partEtags));
      const { info, bytes: back } = await stored('copy/big-to');
      assert.equal(info.etag, copied.etag);
      assertSameBytes(back, bytes, 'copy/big-to');
      await rejectsWith(store.copyObject({ from: 'copy/big', to: 'copy/big-stale', size: bytes.length, ifMatch: `"${md5(Buffer.from('other'))}"` }), 'PreconditionFailed');
      assert.equal(await store.head('copy/big-stale'), undefined);
    });
  });
}

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** Small limits, so that a copy of a few MiB goes as part copies. */
const COPY_POLICY: CopyPolicy = { single: 6 * MiB, partSize: 5 * MiB };

function fixtureStore(): MemoryStore {
  const store = new MemoryStore('conformance');
  for (const key of FIXTURE_KEYS) store.put(key, key.endsWith('/') ? Buffer.alloc(0) : bytesOf(key));
  return store;
}

conformance('MemoryStore', async () => ({ store: fixtureStore(), close: async () => {} }));

// Folder listings from meta over gRPC (its own MemoryStore behind it), the rest from the node's.
conformance('MetaListingStore: meta over gRPC on 127.0.0.1', async () => {
  const metas = metaFixture();
  const meta = await metas.start({ store: fixtureStore() });
  const client = createMetaClient(meta.address, META_TOKEN);
  const store = new MetaListingStore(fixtureStore(), { client, maxAgeMs: 60_000, log: silentLogger, onOutcome: (o) => assert.equal(o, 'meta') });
  const close = async () => {
    client.close();
    await metas.stopAll();
  };
  return { store, close };
});

writeConformance('MemoryStore', async () => new MemoryStore('writes', COPY_POLICY));

// One s3rver for the listings and the writes, each in a bucket of its own.
let s3: Promise<S3Fixture> | undefined;
const sharedS3 = () => (s3 ??= startS3Fixture(['conformance', 'writes']));
after(async () => (await s3)?.stop());
const s3Store = async (bucket: string) => {
  const fixture = await sharedS3();
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  return { fixture, store: new S3Store({ bucket, endpoint: fixture.endpoint, requestTimeoutMs: 10_000, maxSockets: 8, copyPolicy: COPY_POLICY }) };
};

conformance('S3Store against s3rver', async () => {
  const { fixture, store } = await s3Store('conformance');
  await putAll(fixture, 'conformance', FIXTURE_KEYS.map((key) => ({ key, bytes: key.endsWith('/') ? Buffer.alloc(0) : bytesOf(key) })));
  return { store, close: async () => {} };
});

writeConformance('S3Store against s3rver', async () => (await s3Store('writes')).store);

describe('S3Store errors against s3rver', () => {
  test('a missing bucket is NoSuchBucket', async () => {
    const s3 = await startS3Fixture(['present']);
    try {
      const store = new S3Store({ bucket: 'absent-bucket', endpoint: s3.endpoint, requestTimeoutMs: 10_000, maxSockets: 2 });
      await assert.rejects(store.checkBucket(), (err) => isCachalotError(err, 'NoSuchBucket'));
    } finally {
      await s3.stop();
    }
  });

  test('an endpoint nobody listens on is EndpointUnreachable', async () => {
    const store = new S3Store({ bucket: 'any-bucket', endpoint: 'http://127.0.0.1:9', requestTimeoutMs: 2000, maxSockets: 2 });
    await assert.rejects(store.checkBucket(), (err) => isCachalotError(err, 'EndpointUnreachable'));
  });
});
