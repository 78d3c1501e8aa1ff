// Membership: leases, lapses and epochs, on an injected clock and an in-memory epoch store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Membership, MembershipChange } from '../../src/meta/membership';
import type { EpochStore, NodeReport } from '../../src/meta/types';

const LEASE_MS = 1500;

/** A heartbeat's figures; the others derived from these three, so that each field is seen to be carried. */
function figures(usedBytes: number, hits: number, misses: number): NodeReport {
  const suspects = hits % 2 ? ['b', 'c'] : [];
  return { usedBytes, hits, misses, pinnedBytes: 2 * usedBytes, peerBlocks: 3 * hits, peerFailures: misses + 1, servedBlocks: hits + 2, s3GetBytes: 5 * usedBytes, listingsFromMeta: hits + 3, listingsFromS3: misses + 4, suspects };
}

function memoryStore(initial = 0): EpochStore & { saved: number[]; failing: boolean } {
  const store = {
    saved: [] as number[],
    failing: false,
    load: () => store.saved.at(-1) ?? initial,
    save: (epoch: number) => {
      if (store.failing) throw new Error('disk full');
      store.saved.push(epoch);
    },
  };
  return store;
}

function setup(store = memoryStore()) {
  let now = 1_000_000;
  const changes: Array<[MembershipChange, string, number]> = [];
  const membership = new Membership({ leaseMs: LEASE_MS, store, now: () => now, onChange: (...c) => changes.push(c) });
  return { membership, store, changes, advance: (ms: number) => (now += ms) };
}

const node = (id: string, address = `127.0.0.1:${id.length + 7000}`, capacityBytes = 1000) => ({ nodeId: id, peerAddress: address, capacityBytes });

test('a fresh meta starts at epoch 1, and a restart moves past the saved epoch', () => {
  const store = memoryStore();
  assert.equal(setup(store).membership.epoch, 1);
  const { membership } = setup(memoryStore(41));
  assert.equal(membership.epoch, 42, 'restart: the forgotten member set is a change');
});

test('joins bump the epoch; an identical re-register renews without a bump; a new address or capacity bumps', () => {
  const { membership, changes } = setup();
  assert.deepEqual(membership.register(node('a')), { leaseTtlMs: LEASE_MS, epoch: 2 });
  assert.equal(membership.register(node('b')).epoch, 3);
  assert.equal(membership.register(node('b')).epoch, 3, 'same node, same address: no change');
  assert.equal(membership.register(node('b', '127.0.0.1:9999')).epoch, 4, 'moved');
  assert.equal(membership.register(node('b', '127.0.0.1:9999', 2000)).epoch, 5, 'capacity changed (placement weights)');
  assert.deepEqual(changes.map(([c, id, e]) => `${c} ${id} ${e}`), ['joined a 2', 'joined b 3', 'changed b 4', 'changed b 5']);
});

test('heartbeats renew the lease and carry the figures and suspects; an unknown node is told to register', () => {
  const { membership, advance } = setup();
  assert.deepEqual(membership.heartbeat({ nodeId: 'x', ...figures(1, 2, 3) }), { epoch: 1, unknown: true });
  membership.register(node('a'));
  for (let i = 0; i < 10; i++) {
    advance(LEASE_MS / 3);
    assert.deepEqual(membership.heartbeat({ nodeId: 'a', ...figures(10 * i, i, 1) }), { epoch: 2, unknown: false });
  }
  const [a] = membership.view().members;
  assert.deepEqual(a, { id: 'a', address: node('a').peerAddress, state: 'alive', leaseAgeMs: 0, capacityBytes: 1000, ...figures(90, 9, 1) });
  assert.deepEqual(a.suspects, ['b', 'c']);
  membership.heartbeat({ nodeId: 'a', ...figures(100, 10, 1) });
  assert.deepEqual(membership.view().members[0].suspects, [], 'the last heartbeat says which peers are suspect now');
});

test('a member is late past half its lease and dropped once the lease lapses (one epoch for all that lapse together)', () => {
  const { membership, advance, changes } = setup();
  membership.register(node('a'));
  membership.register(node('b'));
  membership.register(node('c'));
  assert.equal(membership.epoch, 4);
  advance(LEASE_MS / 2 + 1);
  membership.heartbeat({ nodeId: 'c', ...figures(0, 0, 0) });
  assert.deepEqual(membership.view().members.map((m) => `${m.id} ${m.state} ${m.leaseAgeMs}`), [`a late ${LEASE_MS / 2 + 1}`, `b late ${LEASE_MS / 2 + 1}`, 'c alive 0']);
  advance(LEASE_MS / 2 - 1);
  assert.equal(membership.view().members.length, 3, 'exactly at the lease: not lapsed yet');
  assert.equal(membership.epoch, 4);
  advance(1);
  assert.deepEqual(membership.view().members.map((m) => m.id), ['c']);
  assert.equal(membership.epoch, 5, 'one bump for both lapses');
  assert.deepEqual(changes.slice(-2).map(([c, id, e]) => `${c} ${id} ${e}`), ['lapsed a 5', 'lapsed b 5']);
  assert.deepEqual(membership.heartbeat({ nodeId: 'a', ...figures(0, 0, 0) }), { epoch: 5, unknown: true }, 'a lapsed node must register again');
});

test('a lapse is noticed by the sweep alone, with no request', () => {
  const { membership, advance } = setup();
  membership.register(node('a'));
  advance(LEASE_MS + 1);
  membership.expire();
  assert.equal(membership.epoch, 3);
});

test('leave drops the member at once; leaving twice or as a stranger changes nothing', () => {
  const { membership } = setup();
  membership.register(node('a'));
  membership.register(node('b'));
  assert.equal(membership.leave('a'), 4);
  assert.equal(membership.leave('a'), 4);
  assert.equal(membership.leave('nobody'), 4);
  assert.deepEqual(membership.view().members.map((m) => m.id), ['b']);
});

test('the view lists members by id', () => {
  const { membership } = setup();
  for (const id of ['node-c', 'node-a', 'node-b']) membership.register(node(id));
  assert.deepEqual(membership.view().members.map((m) => m.id), ['node-a', 'node-b', 'node-c']);
});

test('every epoch handed out was saved first; a failed save leaves the member set and the epoch as they were', () => {
  const store = memoryStore();
  const { membership } = setup(store);
  membership.register(node('a'));
  assert.deepEqual(store.saved, [1, 2]);
  store.failing = true;
  assert.throws(() => membership.register(node('b')), /disk full/);
  assert.equal(membership.epoch, 2);
  assert.deepEqual(membership.view().members.map((m) => m.id), ['a'], 'b did not join');
  store.failing = false;
  assert.equal(membership.register(node('b')).epoch, 3);
});
