import { crc32c } from '@node-rs/crc32';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../../src/block/block-buffer';
import { MAX_RUN_BYTES } from '../../src/block/get-runs';
import { OriginSource } from '../../src/block/origin-source';
import type { BlockRequest } from '../../src/block/types';
import { sampleBytes } from '../../src/embedded/sample-dataset';
import { CachalotError } from '../../src/errors';
import { MemoryStore } from '../../src/object/memory-store';
import type { RangeRequest } from '../../src/object/types';

const BLOCK = 64 * 1024;
const PER_RUN = MAX_RUN_BYTES / BLOCK;

/** A memory store that records every GET's range and may fail one after some of its buffers. */
class RecordingStore extends MemoryStore {
  readonly gets: Array<{ key: string; start: number; end: number; buffers: number }> = [];
  /** Fails the next GET with ConnectionLost once this many of its buffers are full. */
  failAfter?: number;

  override async getRange(request: RangeRequest): Promise<Buffer[]> {
    this.gets.push({ key: request.key, start: request.start, end: request.end, buffers: request.into?.length ?? 1 });
    const failAfter = this.failAfter;
    if (failAfter === undefined) return super.getRange(request);
    this.failAfter = undefined;
    await super.getRange({ ...request, onFilled: (index) => index < failAfter && request.onFilled?.(index) });
    throw new CachalotError('ConnectionLost', 'dropped part way');
  }
}

function setup(objects: Record<string, number>) {
  const store = new RecordingStore();
  const bytes = new Map<string, Buffer>();
  const etags = new Map<string, string>();
  for (const [key, size] of Object.entries(objects)) {
    bytes.set(key, sampleBytes(key, size));
    etags.set(key, store.put(key, bytes.get(key)!).etag);
  }
  const pool = new BufferPool({ size: BLOCK });
  const request = (key: string, index: number): BlockRequest => ({
    bucket: 'b',
    key,
    etag: etags.get(key)!,
    index,
    objectSize: bytes.get(key)!.length,
    blockSize: BLOCK,
  });
  const expect = (key: string, index: number) => bytes.get(key)!.subarray(index * BLOCK, (index + 1) * BLOCK);
  return { store, source: new OriginSource(store, pool), request, expect, pool };
}

test('blocks of one object asked for together load with one GET per run of consecutive blocks, each with its own bytes and CRC32C', async () => {
  const { store, source, request, expect } = setup({ a: 10 * BLOCK + 100, b: 3 * BLOCK });
  // Out of order, with a gap (4), another object between, and a short last block (10).
  const asked: Array<[string, number]> = [['a', 2], ['a', 1], ['b', 0], ['a', 3], ['a', 5], ['a', 10], ['b', 1], ['a', 6]];
  const blocks = await Promise.all(asked.map(([key, index]) => source.load(request(key, index))));
  blocks.forEach((block, i) => {
    const [key, index] = asked[i];
    assert.ok(block.bytes.equals(expect(key, index)), `${key}#${index}: wrong bytes`);
    assert.equal(block.crc32c, crc32c(block.bytes), `${key}#${index}: wrong CRC32C`);
    block.release();
  });
  const got = store.gets.map(({ key, start, end }) => `${key} ${start / BLOCK}-${Math.ceil(end / BLOCK)}`).sort();
  assert.ok(PER_RUN >= 3, 'the test expects runs of three blocks to fit');
  assert.deepEqual(got, ['a 1-4', 'a 10-11', 'a 5-7', 'b 0-2']);
});

test('a run is cut at MAX_RUN_BYTES', async () => {
  const count = PER_RUN + 2;
  const { store, source, request } = setup({ a: count * BLOCK });
  const blocks = await Promise.all(Array.from({ length: count }, (_, i) => source.load(request('a', i))));
  blocks.forEach((block) => block.release());
  assert.deepEqual(
    store.gets.map((g) => g.buffers),
    [PER_RUN, 2],
  );
  assert.ok(store.gets.every((g) => g.end - g.start <= MAX_RUN_BYTES));
});

test('blocks asked for in different turns of the event loop get GETs of their own', async () => {
  const { store, source, request } = setup({ a: 2 * BLOCK });
  (await source.load(request('a', 0))).release();
  (await source.load(request('a', 1))).release();
  assert.equal(store.gets.length, 2);
});

test('a GET failing part way: the blocks already in are served, the rest fail with its error and go back to the pool', async () => {
  const { store, source, request, expect, pool } = setup({ a: 3 * BLOCK });
  store.failAfter = 1;
  const outcomes = await Promise.allSettled([0, 1, 2].map((index) => source.load(request('a', index))));
  assert.equal(outcomes[0].status, 'fulfilled');
  const first = (outcomes[0] as PromiseFulfilledResult<{ bytes: Buffer; release(): void }>).value;
  assert.ok(first.bytes.equals(expect('a', 0)));
  for (const outcome of outcomes.slice(1)) {
    assert.equal(outcome.status, 'rejected');
    assert.equal((outcome as PromiseRejectedResult).reason.code, 'ConnectionLost');
  }
  first.release();
  assert.equal(pool.usedBytes, pool.idleCount * BLOCK, 'buffers of the failed blocks were not released');
});
