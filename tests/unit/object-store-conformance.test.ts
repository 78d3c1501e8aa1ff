import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isCachalotError } from '../../src/errors';
import { createMetaClient } from '../../src/meta/meta-client';
import { MetaListingStore } from '../../src/meta/meta-listing-store';
import { MemoryStore } from '../../src/object/memory-store';
import { S3Store } from '../../src/object/s3-store';
import type { ObjectStore } from '../../src/object/types';
import { silentLogger } from '../../src/obs/logger';
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

let fixture: S3Fixture | undefined;
conformance('S3Store against s3rver', async () => {
  fixture = await startS3Fixture(['conformance']);
  await putAll(fixture, 'conformance', FIXTURE_KEYS.map((key) => ({ key, bytes: key.endsWith('/') ? Buffer.alloc(0) : bytesOf(key) })));
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  const store = new S3Store({ bucket: 'conformance', endpoint: fixture.endpoint, requestTimeoutMs: 10_000, maxSockets: 8 });
  return { store, close: () => fixture!.stop() };
});

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
