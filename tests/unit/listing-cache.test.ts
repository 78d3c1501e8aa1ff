// Meta's shared listing cache against the in-memory store, which counts the
// S3 listing pages it is asked for: one listing for many askers, reuse within
// the TTL, paging from one snapshot, the memory bound, and failures.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCachalotError } from '../../src/errors';
import { ListingCache, type ListingCacheOptions } from '../../src/meta/listing-cache';
import type { ListingRequest } from '../../src/meta/types';
import { FailingStore } from '../../src/object/failing-store';
import { MemoryStore } from '../../src/object/memory-store';
import type { ObjectStore } from '../../src/object/types';
import { silentLogger } from '../../src/obs/logger';

const pad = (i: number) => String(i).padStart(4, '0');

function setup(keys: string[], options: Partial<ListingCacheOptions> & { store?: ObjectStore } = {}) {
  const memory = new MemoryStore('bucket');
  for (const key of keys) memory.put(key, `data:${key}`);
  let clock = 1_000_000;
  const cache = new ListingCache({ stores: () => options.store ?? memory, ttlMs: 60_000, maxEntries: 100_000, log: silentLogger, now: () => clock, ...options });
  return { memory, cache, advance: (ms: number) => (clock += ms) };
}

const request = (prefix: string, more: Partial<ListingRequest> = {}): ListingRequest => ({
  bucket: 'bucket',
  prefix,
  delimiter: '/',
  continuationToken: '',
  maxKeys: 0,
  maxAgeMs: 60_000,
  ...more,
});

/** Every page of one listing: the entries in the order served, the page sizes, the last page's age. */
async function listAll(cache: ListingCache, first: ListingRequest) {
  const entries: string[] = [];
  const pages: number[] = [];
  let ageMs = 0;
  let continuationToken = '';
  do {
    const page = await cache.page({ ...first, continuationToken });
    entries.push(...page.objects.map((o) => o.key), ...page.prefixes);
    pages.push(page.objects.length + page.prefixes.length);
    ageMs = page.ageMs;
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return { entries, pages, ageMs };
}

const expired = (err: unknown) => isCachalotError(err, 'ListingExpired');

test('concurrent askers of one folder share one S3 listing; within the TTL none; past the asker\'s max age or meta\'s TTL one more', async () => {
  const keys = Array.from({ length: 50 }, (_, i) => `data/f${pad(i)}`);
  const { memory, cache, advance } = setup(keys);
  const listings = await Promise.all(Array.from({ length: 10 }, () => listAll(cache, request('data/'))));
  assert.equal(memory.calls.list, 1, 'one S3 listing for ten askers');
  for (const listing of listings) assert.deepEqual(listing.entries, keys);

  advance(30_000);
  const again = await listAll(cache, request('data/'));
  assert.equal(memory.calls.list, 1, 'within the TTL: from the cache');
  assert.equal(again.ageMs, 30_000, 'says how old it is');

  await listAll(cache, request('data/', { maxAgeMs: 10_000 }));
  assert.equal(memory.calls.list, 2, 'older than this asker accepts: listed again');
  advance(59_000);
  await listAll(cache, request('data/', { maxAgeMs: -1 }));
  assert.equal(memory.calls.list, 2, 'an asker of any age, within meta\'s TTL: from the cache');
  advance(2_000);
  await listAll(cache, request('data/', { maxAgeMs: -1 }));
  assert.equal(memory.calls.list, 3, 'past meta\'s TTL: listed again, whatever the asker accepts');
});

test('a folder of 2,500 entries is served complete and in S3\'s order, in pages of 1000, from one snapshot', async () => {
  const objects = Array.from({ length: 2400 }, (_, i) => `big/f${pad(i)}`);
  const folders = Array.from({ length: 100 }, (_, i) => `big/sub${pad(i)}/x`);
  const { memory, cache, advance } = setup([...objects, ...folders]);
  const first = await listAll(cache, request('big/'));
  assert.deepEqual(first.pages, [1000, 1000, 500]);
  const s3Order: string[] = [];
  let token: string | undefined;
  do {
    const page = await memory.list({ prefix: 'big/', delimiter: '/', continuationToken: token });
    s3Order.push(...page.objects.map((o) => o.key), ...page.prefixes);
    token = page.continuationToken;
  } while (token);
  assert.deepEqual(first.entries, s3Order, 'every entry once, in the order S3 listed them');
  assert.equal(new Set(first.entries).size, 2500);

  // A reader keeps its snapshot although the folder changes and is listed again meanwhile.
  const page1 = await cache.page(request('big/', { maxKeys: 100 }));
  memory.put('big/f0150-new', 'x');
  memory.delete('big/f0200');
  advance(1);
  const fresh = await listAll(cache, request('big/', { maxAgeMs: 0 }));
  assert.ok(fresh.entries.includes('big/f0150-new') && !fresh.entries.includes('big/f0200'), 'a new listing sees the change');
  const page2 = await cache.page(request('big/', { maxKeys: 150, continuationToken: page1.continuationToken }));
  const keys = page2.objects.map((o) => o.key);
  assert.deepEqual([keys[0], keys.at(-1)], ['big/f0100', 'big/f0249'], 'page 2 goes on where page 1 ended');
  assert.ok(!keys.includes('big/f0150-new') && keys.includes('big/f0200'), 'page 2 is from page 1\'s snapshot');
});

test('pages go out as S3\'s arrive: page 1 is served while S3\'s page 2 is still awaited', async () => {
  const memory = new MemoryStore('bucket');
  for (let i = 0; i < 1500; i++) memory.put(`slow/f${pad(i)}`, 'x');
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const gated: ObjectStore = Object.assign(Object.create(memory) as MemoryStore, {
    list: async (r: Parameters<ObjectStore['list']>[0]) => {
      if (r.continuationToken) await gate;
      return memory.list(r);
    },
  });
  const { cache } = setup([], { store: gated });
  const page1 = await cache.page(request('slow/'));
  assert.equal(page1.objects.length, 1000);
  assert.notEqual(page1.continuationToken, '');
  let page2Served = false;
  const page2 = cache.page(request('slow/', { continuationToken: page1.continuationToken })).then((p) => ((page2Served = true), p));
  await new Promise((r) => setImmediate(r));
  assert.equal(page2Served, false, 'page 2 waits for S3\'s page 2');
  open();
  const last = await page2;
  assert.equal(last.objects.length, 500);
  assert.equal(last.continuationToken, '');
});

test('memory bound: least recently read listings go first; their tokens are ListingExpired, as are another meta\'s', async () => {
  const keys = ['a', 'b', 'c'].flatMap((folder) => Array.from({ length: 400 }, (_, i) => `${folder}/f${pad(i)}`));
  const { memory, cache } = setup(keys, { maxEntries: 1000 });
  const aPage = await cache.page(request('a/', { maxKeys: 100 }));
  await listAll(cache, request('b/'));
  await cache.page(request('a/', { maxKeys: 100, continuationToken: aPage.continuationToken }));
  await listAll(cache, request('c/'));
  assert.equal(memory.calls.list, 3);
  await listAll(cache, request('a/'));
  assert.equal(memory.calls.list, 3, 'a/ was read last before c/ came: kept');
  await listAll(cache, request('b/'));
  assert.equal(memory.calls.list, 4, 'b/ was the least recently read: dropped for c/, listed again');
  await listAll(cache, request('c/'));
  assert.equal(memory.calls.list, 5, 'b/ came back at the price of c/, the least recently read then');
  // And c/ at the price of a/.
  await assert.rejects(cache.page(request('a/', { continuationToken: aPage.continuationToken })), expired);

  const other = setup(keys).cache;
  const token = (await other.page(request('c/', { maxKeys: 10 }))).continuationToken;
  await assert.rejects(cache.page(request('c/', { continuationToken: token })), expired, 'a token of another meta (a restart)');
  await assert.rejects(cache.page(request('c/', { continuationToken: 'garbage' })), expired);
});

test('a folder larger than the bound is ListingTooLarge, and not listed again within the TTL', async () => {
  const keys = Array.from({ length: 1500 }, (_, i) => `huge/f${pad(i)}`);
  const { memory, cache, advance } = setup([...keys, 'small/x'], { maxEntries: 1000 });
  await listAll(cache, request('small/'));
  const tooLarge = (err: unknown) => isCachalotError(err, 'ListingTooLarge') && /more than 999 entries/.test(err.message);
  await assert.rejects(listAll(cache, request('huge/')), tooLarge);
  const calls = memory.calls.list;
  await assert.rejects(listAll(cache, request('huge/')), tooLarge);
  assert.equal(memory.calls.list, calls, 'remembered as too large');
  await listAll(cache, request('small/'));
  assert.equal(memory.calls.list, calls, 'the other listings were kept');
  advance(61_000);
  await assert.rejects(listAll(cache, request('huge/')), tooLarge);
  assert.ok(memory.calls.list > calls, 'asked again past the TTL');
});

test('an S3 error goes to every asker with its code and is not kept: the next ask lists again', async () => {
  const memory = new MemoryStore('bucket');
  memory.put('d/x', 'x');
  const failing = new FailingStore(memory);
  failing.inject({ operations: ['list'], code: 'NoSuchBucket', times: 1 });
  const { cache } = setup([], { store: failing });
  const asks = await Promise.allSettled(Array.from({ length: 3 }, () => cache.page(request('d/'))));
  for (const ask of asks) assert.ok(ask.status === 'rejected' && isCachalotError(ask.reason, 'NoSuchBucket'), JSON.stringify(ask));
  assert.equal(failing.injected.list, 1, 'one S3 listing for the three');
  assert.deepEqual((await listAll(cache, request('d/'))).entries, ['d/x']);
});

test('a sweep lets go of replaced listings nobody reads any more; the newest stays within the TTL', async () => {
  const { cache, advance } = setup(Array.from({ length: 30 }, (_, i) => `s/f${pad(i)}`));
  const old = await cache.page(request('s/', { maxKeys: 10 }));
  advance(1);
  const current = await cache.page(request('s/', { maxKeys: 10, maxAgeMs: 0 }));
  cache.sweep();
  await cache.page(request('s/', { maxKeys: 10, continuationToken: old.continuationToken }));
  advance(11_000);
  cache.sweep();
  await assert.rejects(cache.page(request('s/', { continuationToken: old.continuationToken })), expired, 'replaced and not read for 10 s');
  const next = await cache.page(request('s/', { maxKeys: 10, continuationToken: current.continuationToken }));
  assert.equal(next.objects[0].key, 's/f0010', 'the newest listing is kept');
});

test('forget: a changed folder is listed again by the next asker, others are kept; a reader of the old listing finishes it, then the sweep lets it go', async () => {
  const { memory, cache, advance } = setup([...Array.from({ length: 30 }, (_, i) => `c/f${pad(i)}`), 'k/x', 'top']);
  const reading = await cache.page(request('c/', { maxKeys: 10 }));
  await listAll(cache, request('k/'));
  await listAll(cache, request(''));
  assert.equal(memory.calls.list, 3);
  memory.put('c/new', 'x');
  cache.forget('bucket', ['c/', '']);
  cache.forget('another-bucket', ['k/']);
  const fresh = await listAll(cache, request('c/'));
  assert.ok(fresh.entries.includes('c/new'), 'listed again at once, within the TTL');
  await listAll(cache, request(''));
  await listAll(cache, request('k/'));
  assert.equal(memory.calls.list, 5, 'c/ and the root listed again; k/ of this bucket kept');
  const rest = await cache.page(request('c/', { maxKeys: 100, continuationToken: reading.continuationToken }));
  assert.equal(rest.objects.length, 20, 'the old listing, whole');
  assert.ok(!rest.objects.some((o) => o.key === 'c/new'));
  advance(11_000);
  cache.sweep();
  await assert.rejects(cache.page(request('c/', { continuationToken: reading.continuationToken })), expired, 'let go once nobody read it for 10 s');
});
