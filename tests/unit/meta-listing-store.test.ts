// A node's MetaListingStore against a real meta over gRPC on 127.0.0.1:
// folder listings from meta's cache, whole; meta down: S3 at once and meta
// passed over for a while; meta back: asked again; failures meta meets (an
// S3 error, a token whose snapshot is gone) end in a complete S3 listing.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pino from 'pino';
import { CachalotError, isCachalotError } from '../../src/errors';
import { createMetaClient } from '../../src/meta/meta-client';
import { MetaListingStore, type ListingOutcome, type MetaListingStoreOptions } from '../../src/meta/meta-listing-store';
import type { ListingPage } from '../../src/meta/types';
import { FailingStore } from '../../src/object/failing-store';
import { MemoryStore } from '../../src/object/memory-store';
import type { ListPage } from '../../src/object/types';
import { silentLogger } from '../../src/obs/logger';
import { waitFor } from '../support/e2e-helpers';
import { META_TOKEN, metaFixture } from '../support/meta-fixture';

const metas = metaFixture();
after(() => metas.stopAll());

const KEYS = [...Array.from({ length: 2400 }, (_, i) => `d/f${String(i).padStart(4, '0')}`), ...Array.from({ length: 100 }, (_, i) => `d/sub${i}/x`), 'other/y'];
const MODIFIED = new Date('2024-05-01T12:00:00.123Z');

/** S3 as meta sees it and as the node sees it: the same objects, each store counting its own calls. */
function bucket(keys = KEYS): MemoryStore {
  const store = new MemoryStore('bucket');
  for (const key of keys) store.put(key, `data:${key}`, MODIFIED);
  return store;
}

/** The node's side: the decorator over its own S3, with what it reports. */
function node(client: MetaListingStoreOptions['client'], more: Partial<MetaListingStoreOptions> = {}) {
  const s3 = bucket();
  const outcomes: ListingOutcome[] = [];
  const store = new MetaListingStore(s3, { client, maxAgeMs: 60_000, log: silentLogger, onOutcome: (o) => outcomes.push(o), ...more });
  return { s3, store, outcomes };
}

/** A folder listing as Namespace makes it: pages until no token. */
async function listFolder(store: { list: MemoryStore['list'] }, prefix: string): Promise<ListPage & { pages: number }> {
  const all: ListPage & { pages: number } = { objects: [], prefixes: [], pages: 0 };
  let continuationToken: string | undefined;
  do {
    const page = await store.list({ prefix, delimiter: '/', continuationToken });
    all.objects.push(...page.objects);
    all.prefixes.push(...page.prefixes);
    all.pages++;
    all.ageMs = page.ageMs;
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return all;
}

test('a folder listing comes from meta whole, as S3 would give it; probes and heads stay on S3', async () => {
  const metaS3 = bucket();
  const meta = await metas.start({ store: metaS3 });
  const client = createMetaClient(meta.address, META_TOKEN);
  try {
    const { s3, store, outcomes } = node(client);
    const listing = await listFolder(store, 'd/');
    const direct = await listFolder(bucket(), 'd/');
    assert.equal(listing.pages, 1, 'one page: the whole folder');
    assert.deepEqual(listing.objects, direct.objects, 'keys, sizes, ETags and times as S3 gives them');
    assert.deepEqual(listing.prefixes, direct.prefixes);
    assert.ok(listing.ageMs !== undefined && listing.ageMs < 1000, `age ${listing.ageMs}`);
    assert.deepEqual(outcomes, ['meta']);
    assert.equal(s3.calls.list, 0, 'the node did not list S3');
    assert.equal(metaS3.calls.list, 3, 'meta listed the folder, all 3 S3 pages');
    await listFolder(store, 'd/');
    assert.equal(metaS3.calls.list, 3, 'again within the TTL: from meta\'s cache');

    assert.equal((await store.list({ prefix: 'd/f0001/', maxKeys: 1 })).objects.length, 0);
    assert.equal((await store.head('d/f0001'))?.size, 'data:d/f0001'.length);
    assert.deepEqual([s3.calls.list, s3.calls.head], [1, 1], "a lookup's probe and head go to S3");
  } finally {
    client.close();
  }
});

test('meta down: S3 at once, meta passed over for a while; meta back: its listings again', async () => {
  const meta = await metas.start({ store: bucket() });
  const address = meta.address;
  const lines: Array<{ msg: string }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const client = createMetaClient(address, META_TOKEN);
  try {
    const { s3, store, outcomes } = node(client, { skipMs: 500, log });
    await listFolder(store, 'other/');
    assert.deepEqual(outcomes, ['meta']);

    await meta.stop();
    let started = Date.now();
    assert.deepEqual((await listFolder(store, 'other/')).objects.map((o) => o.key), ['other/y']);
    assert.ok(Date.now() - started < 2000, `listed S3 at once (${Date.now() - started} ms)`);
    started = Date.now();
    await listFolder(store, 'd/');
    assert.ok(Date.now() - started < 500, `meta passed over: no wait (${Date.now() - started} ms)`);
    assert.deepEqual(outcomes, ['meta', 'meta-failed', 's3']);
    assert.equal(s3.calls.list, 1 + 3, 'the node listed S3 itself');

    await metas.start({ listen: address, store: bucket() });
    const back = await waitFor(async () => {
      await listFolder(store, 'other/');
      return outcomes.at(-1) === 'meta';
    }, 5000, 100);
    assert.ok(back, `meta used again once back: ${outcomes.join(' ')}`);
    const said = lines.map((l) => l.msg);
    assert.equal(said.filter((m) => /meta could not serve a listing/.test(m)).length, 1, `said once: ${JSON.stringify(said)}`);
    assert.ok(said.includes('meta serves listings again'));
  } finally {
    client.close();
  }
});

test("an S3 error meta meets keeps its code across the wire; the node then lists S3 itself", async () => {
  const failing = new FailingStore(bucket());
  failing.inject({ operations: ['list'], code: 'NoSuchBucket', times: Infinity });
  const meta = await metas.start({ store: failing });
  const client = createMetaClient(meta.address, META_TOKEN);
  try {
    const request = { bucket: 'bucket', prefix: 'other/', delimiter: '/', continuationToken: '', maxKeys: 0, maxAgeMs: 1000 };
    await assert.rejects(client.list(request, 2000), (err) => isCachalotError(err, 'NoSuchBucket') && err.message.startsWith(`meta ${meta.address}: `));
    await assert.rejects(client.list({ ...request, bucket: 'No_Such' }, 2000), /invalid bucket name/);
    const { store, outcomes } = node(client);
    assert.deepEqual((await listFolder(store, 'other/')).objects.map((o) => o.key), ['other/y']);
    assert.deepEqual(outcomes, ['meta-failed']);
  } finally {
    client.close();
  }
});

test('a listing that loses its snapshot midway is listed again from S3, from its start; meta is asked again at once', async () => {
  const served: string[] = [];
  const stale: ListingPage = {
    objects: [{ key: 'd/deleted-since', size: 1, etag: '"x"', lastModifiedMs: 0 }],
    prefixes: [],
    continuationToken: 'snapshot-1.500',
    ageMs: 0,
  };
  const client = {
    address: 'fake-meta',
    list: async (request: { continuationToken: string }) => {
      served.push(request.continuationToken);
      if (request.continuationToken) throw new CachalotError('ListingExpired', 'the listing this token belongs to is gone');
      return stale;
    },
  };
  const { store, outcomes } = node(client);
  const listing = await listFolder(store, 'd/');
  const direct = await listFolder(bucket(), 'd/');
  assert.deepEqual(listing.objects.map((o) => o.key), direct.objects.map((o) => o.key), "S3's listing, without meta's first page");
  assert.deepEqual(outcomes, ['meta-failed']);
  await listFolder(store, 'other/');
  assert.deepEqual(served, ['', 'snapshot-1.500', '', 'snapshot-1.500'], 'not passed over: the failure was of one listing');
});

test("writes go to the node's own S3, never to meta", async () => {
  const { s3, store } = node({ address: 'meta.invalid:1', list: () => assert.fail('a write asked meta') });
  const { etag } = await store.putObject({ key: 'w/put', body: Buffer.from('put') });
  const uploadId = await store.createMultipartUpload('w/multi');
  const part = await store.uploadPart({ key: 'w/multi', uploadId, partNumber: 1, body: Buffer.from('part') });
  await store.completeMultipartUpload({ key: 'w/multi', uploadId, parts: [{ partNumber: 1, ...part }] });
  await store.abortMultipartUpload('w/multi', await store.createMultipartUpload('w/multi'));
  await store.copyObject({ from: 'w/put', to: 'w/copy', size: 3, ifMatch: etag });
  await store.deleteObject('w/put');
  assert.deepEqual(s3.calls, { head: 0, list: 0, get: 0, put: 1, 'create-upload': 2, 'upload-part': 1, 'complete-upload': 1, 'abort-upload': 1, delete: 1, copy: 1 });
  assert.equal((await s3.getRange({ key: 'w/copy', start: 0, end: 3 }))[0].toString(), 'put');
  assert.equal((await s3.head('w/multi'))?.size, 4);
});
