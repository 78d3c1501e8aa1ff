import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlockBuffer } from '../../src/block/block-buffer';
import type { BlockRequest } from '../../src/block/types';
import { ownerOfBlock } from '../../src/cluster/block-placement';
import { PeerSource, type PeerMember } from '../../src/cluster/peer-source';
import { silentLogger } from '../../src/obs/logger';

const members: PeerMember[] = [
  { id: 'a', address: '127.0.0.1:1', capacityBytes: 100 },
  { id: 'b', address: '127.0.0.1:2', capacityBytes: 100 },
  { id: 'c', address: '127.0.0.1:3', capacityBytes: 100 },
];
const request = (index: number): BlockRequest => ({ bucket: 'b', key: 'k', etag: '"e"', index, objectSize: 1 << 30, blockSize: 1 << 20 });
const ownerIdOf = (index: number) => ownerOfBlock(request(index), members.map((m) => ({ ...m, weight: m.capacityBytes })))!.id;
/** Block indexes owned by member id. */
const ownedBy = (id: string) => Array.from({ length: 200 }, (_, i) => i).filter((i) => ownerIdOf(i) === id);

function setup(options: { failing?: Set<string> } = {}) {
  let clock = 1000;
  const asked: string[] = [];
  const fromOrigin: number[] = [];
  const source = new PeerSource({
    selfId: 'a',
    members: () => members,
    peers: {
      fetch: async (address, r) => {
        asked.push(`${address}#${r.index}`);
        if (options.failing?.has(address)) throw new Error('peer down');
        return BlockBuffer.wrap(Buffer.from(`peer:${r.index}`));
      },
    },
    origin: {
      load: async (r) => {
        fromOrigin.push(r.index);
        return BlockBuffer.wrap(Buffer.from(`s3:${r.index}`));
      },
    },
    suspectMs: 5000,
    log: silentLogger,
    now: () => clock,
  });
  return { source, asked, fromOrigin, advance: (ms: number) => (clock += ms) };
}

test("a block this node owns comes from S3; another node's comes from its owner, marked remote", async () => {
  const { source, asked, fromOrigin } = setup();
  const mine = ownedBy('a')[0];
  const theirs = ownedBy('b')[0];
  const own = await source.load(request(mine));
  assert.equal(own.bytes.toString(), `s3:${mine}`);
  assert.equal(own.remote, false);
  const remote = await source.load(request(theirs));
  assert.equal(remote.bytes.toString(), `peer:${theirs}`);
  assert.equal(remote.remote, true, 'the disk tier leaves it to its owner');
  assert.deepEqual(asked, [`127.0.0.1:2#${theirs}`]);
  assert.deepEqual(fromOrigin, [mine]);
});

test('a request from a peer is never forwarded again, whoever owns the block', async () => {
  const { source, asked } = setup();
  const theirs = ownedBy('c')[0];
  const block = await source.load({ ...request(theirs), fromPeer: true });
  assert.equal(block.bytes.toString(), `s3:${theirs}`);
  assert.deepEqual(asked, []);
});

test('a failed peer: the read comes from S3, the peer is passed over for a while, then asked again', async () => {
  const { source, asked, fromOrigin, advance } = setup({ failing: new Set(['127.0.0.1:2']) });
  const [first, second] = ownedBy('b');
  assert.equal((await source.load(request(first))).bytes.toString(), `s3:${first}`);
  assert.equal((await source.load(request(second))).bytes.toString(), `s3:${second}`);
  assert.equal(asked.length, 1, 'the suspect peer is not asked again at once');
  assert.deepEqual(fromOrigin, [first, second]);
  advance(1000);
  assert.deepEqual(source.suspects(), [{ id: 'b', msLeft: 4000 }], 'listed (stats, heartbeats) with the time it has left');
  advance(4001);
  assert.deepEqual(source.suspects(), [], 'forgotten once its time is up');
  await source.load(request(second));
  assert.equal(asked.length, 2, 'asked again once the suspicion has passed');
});
