import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownerOf } from '../../src/cluster/rendezvous';

const keys = Array.from({ length: 20_000 }, (_, i) => `bucket\0train/shard-${i % 977}.tar\0"etag"\0${i}`);
const shares = (members: Array<{ id: string; weight: number }>) => {
  const count = new Map(members.map((m) => [m.id, 0]));
  for (const key of keys) count.set(ownerOf(key, members)!.id, count.get(ownerOf(key, members)!.id)! + 1);
  return new Map([...count].map(([id, n]) => [id, n / keys.length]));
};

test('every node computes the same owner, whatever the order of the member list', () => {
  const members = [{ id: 'a', weight: 1 }, { id: 'b', weight: 1 }, { id: 'c', weight: 1 }];
  for (const key of keys.slice(0, 500)) assert.equal(ownerOf(key, members)!.id, ownerOf(key, [...members].reverse())!.id);
});

test('equal weights share the keys evenly; a member twice the weight owns about twice the share', () => {
  const even = shares([{ id: 'a', weight: 64 }, { id: 'b', weight: 64 }, { id: 'c', weight: 64 }]);
  for (const [id, share] of even) assert.ok(Math.abs(share - 1 / 3) < 0.02, `${id}: ${share}`);
  const weighted = shares([{ id: 'a', weight: 2 }, { id: 'b', weight: 1 }, { id: 'c', weight: 1 }]);
  assert.ok(Math.abs(weighted.get('a')! - 0.5) < 0.02, `a: ${weighted.get('a')}`);
  assert.ok(Math.abs(weighted.get('b')! - 0.25) < 0.02, `b: ${weighted.get('b')}`);
});

test('a member leaving moves only the keys it owned; one joining takes only keys for itself', () => {
  const three = [{ id: 'a', weight: 1 }, { id: 'b', weight: 1 }, { id: 'c', weight: 1 }];
  const two = three.filter((m) => m.id !== 'c');
  const four = [...three, { id: 'd', weight: 1 }];
  for (const key of keys.slice(0, 5000)) {
    const before = ownerOf(key, three)!.id;
    if (before !== 'c') assert.equal(ownerOf(key, two)!.id, before, 'a key of a surviving member stays');
    const after = ownerOf(key, four)!.id;
    assert.ok(after === before || after === 'd', 'a key moves only to the new member');
  }
});

test('no members, or none with room: no owner', () => {
  assert.equal(ownerOf('k', []), undefined);
  assert.equal(ownerOf('k', [{ id: 'a', weight: 0 }]), undefined);
});
