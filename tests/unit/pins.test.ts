// Pinned blocks in the disk tier (`cachalot pin`): never evicted by a scan
// that pushes everything else out, kept pinned across a close and open,
// refused past the capacity, released by unpin and dropped by remove.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferPool } from '../../src/block/block-buffer';
import { DiskTier } from '../../src/block/disk-tier';
import { TinyLfuPolicy } from '../../src/block/tiny-lfu';
import type { BlockId } from '../../src/block/types';
import { sampleBytes } from '../../src/embedded/sample-dataset';
import { isCachalotError } from '../../src/errors';
import { silentLogger } from '../../src/obs/logger';
import { putBytes } from '../support/block-bytes';

const BLOCK = 64 * 1024;
const pool = new BufferPool({ size: BLOCK });
const id = (key: string, index: number): BlockId => ({ bucket: 'b', key, etag: '"e"', index });

/** Each block asked for `times` times and offered, as repeated reads do. */
async function readOften(tier: DiskTier, key: string, blocks: number, times: number): Promise<void> {
  for (let round = 0; round < times; round++) {
    for (let i = 0; i < blocks; i++) {
      const hit = await tier.get(id(key, i));
      if (hit) hit.release();
      else await putBytes(tier, id(key, i), pool, sampleBytes(`${key}${i}`, BLOCK));
    }
  }
}

test('policy: a pinned key is never a victim, even of a forced admission', () => {
  const policy = new TinyLfuPolicy(4 * BLOCK, BLOCK);
  for (const key of ['a', 'b', 'c', 'd']) policy.admit(key, BLOCK);
  policy.pin('a');
  policy.pin('b');
  assert.deepEqual(policy.admit('e', BLOCK, true), ['c']);
  assert.deepEqual(policy.admit('f', BLOCK, true), ['d']);
  assert.equal(policy.admit('g', BLOCK, true)?.length, 1, 'an unpinned one goes, never a or b');
  assert.ok(policy.has('a') && policy.has('b'));
  assert.equal(policy.admit('h', 3 * BLOCK, true), undefined, 'only unpinned room counts');
  assert.equal(policy.count, 4);
  policy.unpin('a');
  assert.ok(policy.admit('h', 3 * BLOCK, true)?.includes('a'), 'unpinned: evictable again');
  assert.ok(policy.has('b'));
});

test('disk tier: pinned blocks survive a scan that evicts the rest, and a close and open; pins past the capacity are refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cachalot-pins-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const open = () => DiskTier.open({ dir, capacityBytes: 8 * BLOCK, pool, blockSize: BLOCK, log: silentLogger, directIo: false });
  const tier = await open();
  // Pinned before the block comes (as warm-up --pin does), and once it is there.
  await tier.pin(id('pinned', 0), BLOCK);
  await putBytes(tier, id('pinned', 0), pool, sampleBytes('pinned0', BLOCK));
  await putBytes(tier, id('pinned', 1), pool, sampleBytes('pinned1', BLOCK));
  await tier.pin(id('pinned', 1), BLOCK);
  await readOften(tier, 'plain', 2, 1);
  assert.equal(tier.pinnedBytes, 2 * BLOCK);

  // Three passes over 12 blocks: each pass's blocks are asked for more often than the old ones, and push them out.
  await readOften(tier, 'scan', 12, 3);
  assert.ok(tier.contains(id('pinned', 0)) && tier.contains(id('pinned', 1)), 'pinned blocks kept');
  assert.ok(!tier.contains(id('plain', 0)) && !tier.contains(id('plain', 1)), 'unpinned blocks of the same age evicted');
  assert.ok(tier.stats()[0].usedBytes <= 8 * BLOCK);

  await assert.rejects(tier.pin(id('big', 0), 7 * BLOCK), (err) => isCachalotError(err, 'PinTooLarge') && /pins would pass/.test((err as Error).message));
  assert.equal(tier.pinnedBytes, 2 * BLOCK, 'a refused pin pins nothing');
  await tier.close();

  const again = await open();
  t.after(() => again.close());
  assert.equal(again.pinnedBytes, 2 * BLOCK, 'pins kept across a restart');
  assert.equal(again.stats()[0].pinnedBytes, 2 * BLOCK);
  assert.ok(again.isPinned(id('pinned', 0)) && again.contains(id('pinned', 1)));
  await again.unpin(id('pinned', 0));
  await again.remove(id('pinned', 1));
  assert.equal(again.pinnedBytes, 0);
  assert.ok(!again.contains(id('pinned', 1)), 'removed');
  await readOften(again, 'scan2', 12, 3);
  assert.ok(!again.contains(id('pinned', 0)), 'unpinned: evictable again');
});
