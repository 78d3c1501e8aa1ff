import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TinyLfuPolicy } from '../../src/block/tiny-lfu';
import { blockKey } from '../../src/block/types';

/** Keys as the tiers make them, so the sketch hashes what it hashes in production. */
const key = (index: number, object = 'shard-0001.tar') => blockKey({ bucket: 'b', key: object, etag: '"e1"', index });

function recorded(policy: TinyLfuPolicy, name: string, times: number): string {
  for (let i = 0; i < times; i++) policy.record(name);
  return name;
}

test('admits everything while there is room, nothing larger than the capacity', () => {
  const policy = new TinyLfuPolicy(30, 10);
  assert.deepEqual(policy.admit('a', 10), []);
  assert.deepEqual(policy.admit('b', 20), []);
  assert.equal(policy.usedBytes, 30);
  assert.equal(policy.count, 2);
  assert.equal(policy.admit('huge', 31), undefined);
  assert.deepEqual(policy.admit('a', 10), [], 'a key already in is only touched');
  assert.equal(policy.usedBytes, 30);
});

test('a full policy rejects a newcomer asked for less often than the blocks it would push out', () => {
  const policy = new TinyLfuPolicy(20, 10);
  policy.admit(recorded(policy, 'a', 2), 10);
  policy.admit(recorded(policy, 'b', 2), 10);
  assert.equal(policy.admit(recorded(policy, 'c', 1), 10), undefined);
  assert.equal(policy.admit(recorded(policy, 'c', 1), 10), undefined, 'a tie keeps the resident');
  assert.equal(policy.admit(recorded(policy, 'c', 1), 10), undefined, 'the request being served does not count');
  assert.equal(policy.has('c'), false);
  assert.deepEqual([policy.has('a'), policy.has('b'), policy.usedBytes], [true, true, 20]);
  assert.deepEqual(policy.admit(recorded(policy, 'c', 1), 10), ['a']);
});

test('a newcomer asked for more often enters, and the victims come oldest first', () => {
  const policy = new TinyLfuPolicy(30, 10);
  for (const name of ['a', 'b', 'c']) policy.admit(recorded(policy, name, 1), 10);
  assert.deepEqual(policy.admit(recorded(policy, 'd', 3), 20), ['a', 'b']);
  assert.deepEqual([policy.has('a'), policy.has('b'), policy.has('c'), policy.has('d')], [false, false, true, true]);
  assert.equal(policy.usedBytes, 30);
});

test('touch makes a key the most recently used', () => {
  const policy = new TinyLfuPolicy(30, 10);
  for (const name of ['a', 'b', 'c']) policy.admit(name, 10);
  assert.equal(policy.oldest(), 'a');
  policy.touch('a');
  assert.equal(policy.oldest(), 'b');
  assert.deepEqual(policy.admit(recorded(policy, 'd', 2), 10), ['b']);
});

test('resize returns the keys that no longer fit, oldest first', () => {
  const policy = new TinyLfuPolicy(40, 10);
  for (const name of ['a', 'b', 'c', 'd']) policy.admit(name, 10);
  policy.touch('a');
  assert.deepEqual(policy.resize(15), ['b', 'c', 'd']);
  assert.deepEqual([policy.usedBytes, policy.capacityBytes, policy.count], [10, 15, 1]);
  assert.deepEqual(policy.resize(100), []);
});

test('remove frees the key’s bytes', () => {
  const policy = new TinyLfuPolicy(20, 10);
  policy.admit('a', 10);
  policy.admit('b', 10);
  policy.remove('a');
  policy.remove('never-admitted');
  assert.deepEqual([policy.usedBytes, policy.count, policy.has('a')], [10, 1, false]);
  assert.deepEqual(policy.admit('c', 10), [], 'room again: no victim');
});

/** One access as a tier makes it: the get counts, a miss is offered for admission. */
type Cache = { access(name: string): boolean };

function tinyLfu(capacity: number): Cache {
  const policy = new TinyLfuPolicy(capacity, 1);
  return {
    access(name) {
      policy.record(name);
      if (policy.has(name)) {
        policy.touch(name);
        return true;
      }
      policy.admit(name, 1);
      return false;
    },
  };
}

/** The baseline: plain LRU, which a loop larger than the cache defeats. */
function lru(capacity: number): Cache {
  const entries = new Set<string>();
  return {
    access(name) {
      const hit = entries.delete(name);
      entries.add(name);
      if (entries.size > capacity) entries.delete(entries.values().next().value!);
      return hit;
    },
  };
}

/** Hit share of each round: every name of the round accessed once, in order. */
function hitShares(cache: Cache, rounds: number, names: string[]): number[] {
  return Array.from({ length: rounds }, () => names.filter((name) => cache.access(name)).length / names.length);
}

const C = 256;
const cyclic = Array.from({ length: 2 * C }, (_, i) => key(i));
const percent = (shares: number[]) => shares.map((s) => `${(100 * s).toFixed(1)}%`).join(' ');

test('a loop over twice the capacity: TinyLFU keeps a stable half, LRU keeps nothing', (t) => {
  const shares = hitShares(tinyLfu(C), 6, cyclic);
  const lruShares = hitShares(lru(C), 6, cyclic);
  t.diagnostic(`TinyLFU hit share per epoch: ${percent(shares)}`);
  t.diagnostic(`LRU hit share per epoch: ${percent(lruShares)}`);
  for (const [epoch, share] of shares.entries()) if (epoch >= 2) assert.ok(share >= 0.4, `epoch ${epoch + 1}: ${percent([share])}`);
  const lruTotal = lruShares.reduce((a, b) => a + b) / lruShares.length;
  assert.ok(lruTotal < 0.05, `LRU hit ${percent([lruTotal])}`);
});

test('a new hot working set replaces the old cold one', (t) => {
  const cache = tinyLfu(C);
  hitShares(cache, 6, cyclic);
  const hot = Array.from({ length: C / 2 }, (_, i) => key(i, 'hot.tar'));
  const shares = hitShares(cache, 20, hot);
  t.diagnostic(`hot set hit share per round: ${percent(shares)}`);
  for (const [round, share] of shares.slice(-5).entries()) assert.ok(share > 0.8, `round ${round + 16}: ${percent([share])}`);
});
