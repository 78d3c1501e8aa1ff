import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from '../../src/object/memory-store';
import type { ListRequest, ObjectStore } from '../../src/object/types';
import { silentLogger } from '../../src/obs/logger';
import { Namespace } from '../../src/vfs/namespace';

function setup(keys: string[], options: { rootPrefix?: string; ttlMs?: number; negativeTtlMs?: number; wrap?: (store: MemoryStore) => ObjectStore } = {}) {
  const store = new MemoryStore();
  for (const key of keys) store.put(key, key.endsWith('/') ? '' : `data:${key}`);
  let clock = 1_000_000;
  let skipped = 0;
  const ns = new Namespace(options.wrap?.(store) ?? store, {
    rootPrefix: options.rootPrefix ?? '',
    ttlMs: options.ttlMs ?? 60_000,
    negativeTtlMs: options.negativeTtlMs ?? 5_000,
    log: silentLogger,
    onSkippedKey: () => skipped++,
    now: () => clock,
  });
  return { store, ns, advance: (ms: number) => (clock += ms), skipped: () => skipped };
}

const names = async (ns: Namespace, path: string) => [...(await ns.list(path)).keys()].sort();

test('prefixes are folders; marker objects make empty folders; markers are not files', async () => {
  const { ns } = setup(['a.txt', 'dir/x', 'empty/', 'deep/1/2/3/f']);
  assert.deepEqual(await names(ns, '/'), ['a.txt', 'deep', 'dir', 'empty']);
  assert.deepEqual(await names(ns, '/empty'), []);
  assert.deepEqual(await names(ns, '/deep/1/2'), ['3']);
  assert.equal((await ns.lookup('/deep/1/2/3/f'))?.kind, 'file');
  assert.equal((await ns.lookup('/empty'))?.kind, 'dir');
  assert.equal(await ns.lookup('/nope'), undefined);
});

test('a folder shadows a key of the same name, in listings and in lookups', async () => {
  const { ns } = setup(['a', 'a/b']);
  assert.equal((await ns.lookup('/a'))?.kind, 'dir');
  assert.deepEqual(await names(ns, '/'), ['a']);
  assert.equal((await ns.list('/')).get('a')?.kind, 'dir');
});

test('keys that cannot be file names are skipped and counted, the rest listed', async () => {
  const long = 'L'.repeat(300);
  const { ns, skipped } = setup(['ok', 'bad//double', 'x/./y', 'x/../z', `x/${long}`, 'x/fine', 'nul\0name']);
  assert.deepEqual(await names(ns, '/'), ['bad', 'ok', 'x']);
  assert.deepEqual(await names(ns, '/x'), ['fine']);
  assert.deepEqual(await names(ns, '/bad'), []);
  assert.ok(skipped() >= 4, `skipped ${skipped()}`);
});

test('lookups inside a listed folder are answered from the listing, not S3', async () => {
  const keys = Array.from({ length: 500 }, (_, i) => `big/f${i}`);
  const { store, ns } = setup(keys);
  await ns.list('/big');
  const before = { ...store.calls };
  for (let i = 0; i < 500; i++) assert.equal((await ns.lookup(`/big/f${i}`))?.kind, 'file');
  assert.equal(await ns.lookup('/big/absent'), undefined);
  assert.deepEqual(store.calls, before);
});

test('listings expire after the TTL; "never" keeps them', async () => {
  const { store, ns, advance } = setup(['d/one']);
  assert.deepEqual(await names(ns, '/d'), ['one']);
  store.put('d/two', 'x');
  assert.deepEqual(await names(ns, '/d'), ['one']);
  advance(61_000);
  assert.deepEqual(await names(ns, '/d'), ['one', 'two']);

  const immutable = setup(['d/one'], { ttlMs: Infinity });
  await names(immutable.ns, '/d');
  immutable.store.put('d/two', 'x');
  immutable.advance(365 * 86400_000);
  assert.deepEqual(await names(immutable.ns, '/d'), ['one']);
});

test('a listing from a cache (meta) is trusted only for what is left of the TTL', async () => {
  // A store that says its listings are 50 s old, as meta's shared cache does.
  const aged = (store: MemoryStore) => Object.assign(Object.create(store) as MemoryStore, { list: async (r: ListRequest) => ({ ...(await store.list(r)), ageMs: 50_000 }) });
  const { store, ns, advance } = setup(['d/one'], { wrap: aged });
  assert.deepEqual(await names(ns, '/d'), ['one']);
  store.put('d/two', 'x');
  advance(9_000);
  assert.deepEqual(await names(ns, '/d'), ['one'], 'within the 10 s left');
  advance(1_001);
  assert.deepEqual(await names(ns, '/d'), ['one', 'two'], '60 s after the listing was made: listed again');
});

test('a miss is remembered for the negative TTL only', async () => {
  const { store, ns, advance } = setup(['x']);
  assert.equal(await ns.lookup('/later'), undefined);
  store.put('later', 'now here');
  assert.equal(await ns.lookup('/later'), undefined);
  advance(5_001);
  assert.equal((await ns.lookup('/later'))?.kind, 'file');
});

test('a prefix mount shows only what is under the prefix', async () => {
  const { ns } = setup(['other/a', 'data/set/a', 'data/set/sub/b', 'data/setx'], { rootPrefix: 'data/set/' });
  assert.deepEqual(await names(ns, '/'), ['a', 'sub']);
  assert.equal(await ns.lookup('/setx'), undefined);
});

test('100,000 entries in one folder list completely through paged listing, quickly', async () => {
  const keys = Array.from({ length: 100_000 }, (_, i) => `huge/${String(i).padStart(6, '0')}.jpg`);
  const { store, ns } = setup(keys);
  const started = Date.now();
  const entries = await ns.list('/huge');
  assert.equal(entries.size, 100_000);
  assert.ok(store.calls.list >= 100, 'listing is paged');
  assert.ok(Date.now() - started < 20_000);
});

test('concurrent listings of one folder share one listing', async () => {
  const { store, ns } = setup(Array.from({ length: 50 }, (_, i) => `c/${i}`));
  await ns.lookup('/c');
  const before = store.calls.list;
  await Promise.all(Array.from({ length: 10 }, () => ns.list('/c')));
  assert.equal(store.calls.list - before, 1);
});

test('lookups of many names in a folder never listed cost one listing, not two requests per name', async () => {
  const { store, ns } = setup(Array.from({ length: 300 }, (_, i) => `small/f${i}`));
  await ns.lookup('/small');
  const before = { ...store.calls };
  const found = await Promise.all(Array.from({ length: 300 }, (_, i) => ns.lookup(`/small/f${i}`)));
  assert.ok(found.every((node) => node?.kind === 'file'));
  const requests = store.calls.head - before.head + (store.calls.list - before.list);
  assert.ok(requests <= 4, `${requests} requests for 300 lookups`);
});
