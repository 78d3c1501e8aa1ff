// Which node owns a block: two blocks of one GET's worth on the same node, so
// that the owner loads them with one request, and the spans still spread
// evenly over the members.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RUN_BYTES } from '../../src/block/get-runs';
import { ownerOfBlock } from '../../src/cluster/block-placement';

const MiB = 2 ** 20;
const members = [{ id: 'a', weight: 1 }, { id: 'b', weight: 1 }, { id: 'c', weight: 1 }];
const block = (index: number, blockSize = 8 * MiB, key = 'train/shard-1.tar') => ({ bucket: 'b', key, etag: '"e1"', index, blockSize });
const owner = (b: ReturnType<typeof block>) => ownerOfBlock(b, members)!.id;

test('blocks 2n and 2n+1 of an object version have one owner when both fit in one GET', () => {
  for (const blockSize of [256 * 1024, MiB, 8 * MiB]) {
    for (let n = 0; n < 300; n++) assert.equal(owner(block(2 * n + 1, blockSize)), owner(block(2 * n, blockSize)), `${blockSize}: span ${n}`);
  }
});

test('the pairs spread evenly over equal members, and differ between objects and versions', () => {
  const count = new Map<string, number>();
  for (let n = 0; n < 3000; n++) count.set(owner(block(2 * n)), (count.get(owner(block(2 * n))) ?? 0) + 1);
  for (const [id, spans] of count) assert.ok(Math.abs(spans / 3000 - 1 / 3) < 0.03, `${id}: ${spans} of 3000 spans`);
  const differs = (other: (n: number) => string) => Array.from({ length: 60 }, (_, n) => n).some((n) => other(n) !== owner(block(2 * n)));
  assert.ok(differs((n) => owner(block(2 * n, 8 * MiB, 'train/shard-2.tar'))), 'another object has the same owners');
  assert.ok(differs((n) => ownerOfBlock({ ...block(2 * n), etag: '"e2"' }, members)!.id), 'another version has the same owners');
});

test('blocks too large for two to a GET are placed one by one', () => {
  const large = MAX_RUN_BYTES;
  const split = Array.from({ length: 100 }, (_, n) => n).filter((n) => owner(block(2 * n + 1, large)) !== owner(block(2 * n, large)));
  assert.ok(split.length > 40, `only ${split.length} of 100 pairs of ${large} bytes split`);
});

test('no members: no owner', () => {
  assert.equal(ownerOfBlock(block(0), []), undefined);
});
