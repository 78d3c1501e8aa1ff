import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../../src/block/block-buffer';
import { CachingSource } from '../../src/block/caching-source';
import { OriginSource } from '../../src/block/origin-source';
import { TieredCache } from '../../src/block/tiered-cache';
import { isCachalotError } from '../../src/errors';
import { sampleBytes } from '../../src/embedded/sample-dataset';
import { FailingStore } from '../../src/object/failing-store';
import { MemoryStore } from '../../src/object/memory-store';
import { RetryingStore } from '../../src/object/retrying-store';
import { FileReader } from '../../src/vfs/file-reader';
import { HeldBlocks } from '../../src/vfs/held-blocks';
import type { FileNode } from '../../src/vfs/namespace';

const BLOCK = 64 * 1024;

function setup(size: number, options: { budget?: number; readaheadMax?: number } = {}) {
  const memory = new MemoryStore('b');
  const bytes = sampleBytes(`file-${size}`, size);
  const info = memory.put('f', bytes);
  const failing = new FailingStore(memory);
  const store = new RetryingStore(failing, { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 2 });
  const node: FileNode = { kind: 'file', key: 'f', size, etag: info.etag, mtime: info.lastModified };
  // One source per mount, as in the daemon: readers of the same block share its GET.
  // Released buffers are poisoned and reused at once: a read that used a block
  // after its release would return 0xa5 bytes and fail the comparisons.
  const pool = new BufferPool({ size: BLOCK, capacityBytes: 4 * BLOCK, poison: true });
  const source = new CachingSource(new TieredCache([]), new OriginSource(store, pool), 16);
  const budget = new HeldBlocks(source, options.budget ?? 64 * BLOCK);
  const open = () => new FileReader(node, budget, { bucket: 'b', blockSize: BLOCK, readaheadMax: options.readaheadMax ?? 8 * BLOCK });
  return { memory, failing, bytes, budget, pool, open };
}

/** The bytes of one read, copied out of its slices before they are let go. */
async function readAt(reader: FileReader, position: number, length: number): Promise<Buffer> {
  const slices = await reader.slices(length, position);
  const bytes = Buffer.concat(slices.buffers);
  assert.equal(bytes.length, slices.bytes);
  slices.release();
  return bytes;
}

/** A small seeded PRNG (mulberry32), so a failing case can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('random (offset, length) reads return the source bytes (property)', async () => {
  for (const size of [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 10 * BLOCK + 123]) {
    const { bytes, open } = setup(size);
    const reader = open();
    const seed = 1000 + size;
    const random = prng(seed);
    for (let i = 0; i < 200; i++) {
      const position = Math.floor(random() * (size + 10));
      const length = 1 + Math.floor(random() * 3 * BLOCK);
      const got = await readAt(reader, position, length);
      assert.deepEqual(got, bytes.subarray(position, position + length), `seed ${seed}, size ${size}, read ${length} at ${position}`);
    }
    reader.close();
  }
});

test('sequential reads grow a readahead window; the budget is returned on close', async () => {
  const { memory, budget, bytes, open } = setup(32 * BLOCK);
  const reader = open();
  const chunks: Buffer[] = [];
  for (let pos = 0; pos < bytes.length; pos += 16 * 1024) chunks.push(await readAt(reader, pos, 16 * 1024));
  assert.deepEqual(Buffer.concat(chunks), bytes);
  assert.equal(memory.getBytes, bytes.length, 'each block fetched exactly once');
  assert.ok(budget.inUse > 0 && budget.inUse <= 8 * BLOCK + BLOCK, `held ${budget.inUse}`);
  reader.close();
  assert.equal(budget.inUse, 0);
});

test('a read\'s slices stay the bytes asked for until released, while the reader moves on and its blocks are reused', async () => {
  const { bytes, open } = setup(32 * BLOCK);
  const reader = open();
  // Across a block boundary: two views.
  const held = await reader.slices(BLOCK, BLOCK / 2);
  assert.equal(held.buffers.length, 2);
  // The reader goes on far past them: the blocks behind are dropped, and the pool (4 blocks, poisoned on release) reuses their memory.
  for (let pos = 2 * BLOCK; pos < bytes.length; pos += 16 * 1024) await readAt(reader, pos, 16 * 1024);
  assert.ok(Buffer.concat(held.buffers).equals(bytes.subarray(BLOCK / 2, BLOCK / 2 + BLOCK)));
  held.release();
  held.release(); // once only
  reader.close();
  const past = await open().slices(100, bytes.length);
  assert.deepEqual([past.buffers.length, past.bytes], [0, 0]);
});

test('prefetch runs ahead of the reader: blocks are requested before they are read', async () => {
  const { memory, open } = setup(32 * BLOCK);
  const reader = open();
  for (let pos = 0; pos < 4 * BLOCK; pos += 16 * 1024) await readAt(reader, pos, 16 * 1024);
  await new Promise((r) => setImmediate(r));
  assert.ok(memory.getBytes > 4 * BLOCK, `only ${memory.getBytes / BLOCK} blocks requested after reading 4`);
  reader.close();
});

test('the first read of a file prefetches the next block, not a whole run; a long sequential read goes out in runs', async () => {
  const { memory, open } = setup(32 * BLOCK);
  const reader = open();
  await readAt(reader, 0, 1000);
  await new Promise((r) => setImmediate(r));
  // A run here is 8 blocks (readaheadMax); the window is 1 block after one read.
  assert.equal(memory.getBytes, 2 * BLOCK, `${memory.getBytes / BLOCK} blocks fetched after one small read`);
  for (let pos = 1000; pos < 16 * BLOCK; pos += 16 * 1024) await readAt(reader, pos, 16 * 1024);
  await new Promise((r) => setImmediate(r));
  assert.ok(memory.getBytes >= 24 * BLOCK, `the window (8 blocks) rounded to whole runs past block 16: ${memory.getBytes / BLOCK} blocks`);
  reader.close();
});

test('random readers fetch only the blocks they touch', async () => {
  const { memory, open } = setup(64 * BLOCK);
  const reader = open();
  for (const block of [40, 3, 17, 60, 9]) await readAt(reader, block * BLOCK + 100, 1000);
  await new Promise((r) => setImmediate(r));
  assert.equal(memory.calls.get, 5);
  reader.close();
});

test('one budget bounds readahead of all open files together', async () => {
  const { budget, open } = setup(64 * BLOCK, { budget: 6 * BLOCK, readaheadMax: 16 * BLOCK });
  const readers = Array.from({ length: 4 }, open);
  let peak = 0;
  for (let pos = 0; pos < 12 * BLOCK; pos += 32 * 1024) {
    for (const reader of readers) {
      await readAt(reader, pos, 32 * 1024);
      peak = Math.max(peak, budget.inUse);
    }
  }
  // Demand blocks are always admitted (one per reader); prefetch never passes the limit.
  assert.ok(peak <= 6 * BLOCK + 4 * BLOCK, `peak ${peak}`);
  for (const reader of readers) reader.close();
  assert.equal(budget.inUse, 0);
});

test('readers of one file share its blocks: each is fetched and counted once', async () => {
  const { memory, budget, bytes, open } = setup(32 * BLOCK, { budget: 16 * BLOCK });
  const readers = Array.from({ length: 4 }, open);
  let peak = 0;
  for (let pos = 0; pos < bytes.length; pos += 32 * 1024) {
    // One behind the other, as the kernel's requests for four readers of a file arrive.
    for (const [i, reader] of readers.entries()) {
      const at = pos - i * BLOCK;
      if (at >= 0) assert.deepEqual(await readAt(reader, at, 32 * 1024), bytes.subarray(at, at + 32 * 1024));
      peak = Math.max(peak, budget.inUse);
    }
  }
  assert.equal(memory.getBytes, bytes.length, 'a block fetched again for a reader behind another');
  assert.ok(peak <= 16 * BLOCK + 4 * BLOCK, `peak ${peak}`);
  for (const reader of readers) reader.close();
  assert.equal(budget.inUse, 0);
});

test('concurrent readers of the same block share one GET', async () => {
  const { memory, bytes, open } = setup(4 * BLOCK);
  const readers = Array.from({ length: 8 }, open);
  const got = await Promise.all(readers.map((r) => readAt(r, BLOCK + 5, 100)));
  for (const g of got) assert.deepEqual(g, bytes.subarray(BLOCK + 5, BLOCK + 105));
  assert.equal(memory.calls.get, 1);
});

test('injected S3 faults are retried and the bytes are right', async () => {
  const { failing, bytes, open } = setup(8 * BLOCK);
  // Fewer than one GET's attempts: the blocks asked for together may all be one GET.
  failing.inject({ operations: ['get'], code: 'Throttled', times: 2 });
  failing.inject({ operations: ['get'], code: 'ConnectionLost', times: 2 });
  const reader = open();
  assert.deepEqual(await readAt(reader, 0, 8 * BLOCK), bytes);
  reader.close();
});

test('a failed block is asked for again by the next read', async () => {
  const { failing, bytes, open } = setup(2 * BLOCK);
  failing.inject({ operations: ['get'], code: 'Throttled', times: Infinity });
  const reader = open();
  await assert.rejects(readAt(reader, 0, 10), (err) => isCachalotError(err, 'Throttled'));
  failing.clear();
  assert.deepEqual(await readAt(reader, 0, 10), bytes.subarray(0, 10));
  reader.close();
});

test('an object changed under an open file fails with PreconditionFailed, never mixed bytes', async () => {
  const { memory, open } = setup(32 * BLOCK);
  const reader = open();
  await readAt(reader, 0, 100);
  memory.put('f', sampleBytes('new version', 32 * BLOCK));
  // Past what the first read prefetched.
  await assert.rejects(readAt(reader, 20 * BLOCK, 100), (err) => isCachalotError(err, 'PreconditionFailed'));
  reader.close();
});
