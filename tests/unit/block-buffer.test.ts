import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlockBuffer, BufferPool } from '../../src/block/block-buffer';

const SIZE = 4096;

/** The pooled memory behind a BlockBuffer's bytes (a view shares its ArrayBuffer). */
function sameMemory(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset;
}

test('one reference per holder: memory goes back to the pool only at the last release', () => {
  const pool = new BufferPool({ size: SIZE, capacityBytes: 4 * SIZE });
  const block = pool.take(SIZE);
  assert.equal(block.retain(), block, 'retain returns the buffer');
  block.retain(2);
  assert.equal(pool.idleCount, 0);
  for (let i = 0; i < 3; i++) {
    block.release();
    assert.equal(pool.idleCount, 0, `recycled after ${i + 1} of 4 releases`);
  }
  block.release();
  assert.equal(pool.idleCount, 1);
});

test('a release too many throws, and does not recycle the memory twice', () => {
  const pool = new BufferPool({ size: SIZE, capacityBytes: 4 * SIZE });
  const block = pool.take(SIZE);
  block.release();
  assert.throws(() => block.release(), /released twice/);
  assert.equal(pool.idleCount, 1);
  const wrapped = BlockBuffer.wrap(Buffer.alloc(8));
  wrapped.release();
  assert.throws(() => wrapped.release(), /released twice/);
});

test('retain after the last release throws', () => {
  const pool = new BufferPool({ size: SIZE, capacityBytes: 4 * SIZE });
  const block = pool.take(SIZE);
  block.retain();
  block.release();
  block.release();
  assert.throws(() => block.retain(), /retained after its last release/);
  // The failed retain gave it no life back.
  assert.throws(() => block.release(), /released twice/);
  assert.equal(pool.idleCount, 1);
});

test('a released buffer’s memory is handed out again by take()', () => {
  const pool = new BufferPool({ size: SIZE, capacityBytes: 4 * SIZE });
  const first = pool.take(SIZE);
  const memory = first.bytes;
  first.release();
  const second = pool.take(SIZE);
  assert.ok(sameMemory(second.bytes, memory), 'take() allocated instead of reusing');
  assert.equal(pool.idleCount, 0);
  // Memory still in use is never handed out twice.
  const third = pool.take(SIZE);
  assert.ok(!sameMemory(third.bytes, memory));
  assert.ok(third.bytes.buffer !== second.bytes.buffer);
});

test('the pool allocates and keeps buffers only within its capacity; beyond it they are freed at release', () => {
  const pool = new BufferPool({ size: SIZE, capacityBytes: 2 * SIZE });
  const blocks = Array.from({ length: 5 }, () => pool.take(SIZE));
  const memories = new Set(blocks.map((b) => b.bytes.buffer));
  assert.equal(memories.size, 5, 'five buffers in use share memory');
  assert.equal(pool.usedBytes, 5 * SIZE, 'what holders hold beyond the capacity is counted too');
  for (const block of blocks) block.release();
  assert.equal(pool.idleCount, 2);
  assert.deepEqual([pool.usedBytes, pool.peakBytes], [2 * SIZE, 5 * SIZE]);
  // Only two of the five come back; the rest are fresh.
  const again = Array.from({ length: 5 }, () => pool.take(SIZE));
  assert.equal(again.filter((b) => memories.has(b.bytes.buffer)).length, 2);
  assert.equal(pool.idleCount, 0);
});

test('slabs hold whole buffers and never take the pool past its capacity', () => {
  const pool = new BufferPool({ size: SIZE, capacityBytes: 5 * SIZE, slabBytes: 2.5 * SIZE });
  const first = pool.take(SIZE);
  assert.deepEqual([pool.usedBytes, pool.idleCount], [2 * SIZE, 1], 'a slab of two buffers');
  const blocks = [first, ...Array.from({ length: 4 }, () => pool.take(SIZE))];
  // Two slabs of two, then the one buffer left in the capacity.
  assert.deepEqual([pool.usedBytes, pool.idleCount], [5 * SIZE, 0]);
  assert.equal(blocks[0].bytes.buffer, blocks[1].bytes.buffer, 'one slab behind the first two');
  for (const block of blocks) block.release();
  assert.deepEqual([pool.usedBytes, pool.peakBytes, pool.idleCount], [5 * SIZE, 5 * SIZE, 5]);
});

test('adopted memory counts in the budget until its release; hasRoom says whether more fits', () => {
  const pool = new BufferPool({ size: SIZE, capacityBytes: 3 * SIZE, poison: true });
  const block = pool.take(SIZE);
  assert.ok(pool.hasRoom(2 * SIZE) && !pool.hasRoom(2 * SIZE + 1));
  const own = pool.adopt(Buffer.alloc(SIZE + 10, 0x01));
  assert.equal(pool.usedBytes, 2 * SIZE + 10);
  assert.ok(!pool.hasRoom(SIZE), 'a buffer more would pass the capacity');
  own.retain();
  own.release();
  assert.equal(pool.usedBytes, 2 * SIZE + 10, 'freed before its last release');
  own.release();
  assert.equal(pool.usedBytes, SIZE);
  assert.ok(own.bytes.every((b) => b === 0xa5), 'adopted memory is poisoned at its release');
  block.release();
  assert.equal(pool.peakBytes, 2 * SIZE + 10);
});

test('poison fills released memory with 0xa5; without poison the bytes are left alone', () => {
  const poisoned = new BufferPool({ size: SIZE, capacityBytes: 2 * SIZE, poison: true });
  const block = poisoned.take(100);
  // Write the whole pooled memory, not just the view.
  const whole = Buffer.from(block.bytes.buffer, block.bytes.byteOffset, SIZE);
  whole.fill(0x01);
  block.release();
  assert.ok(whole.every((b) => b === 0xa5), 'released memory not poisoned throughout');
  assert.ok(block.bytes.every((b) => b === 0xa5), 'a use after release does not show');

  const retained = poisoned.take(SIZE);
  retained.bytes.fill(0x02);
  retained.retain();
  retained.release();
  assert.ok(retained.bytes.every((b) => b === 0x02), 'poisoned while a reference was held');

  const plain = new BufferPool({ size: SIZE, capacityBytes: 2 * SIZE });
  const kept = plain.take(SIZE);
  kept.bytes.fill(0x03);
  kept.release();
  assert.ok(kept.bytes.every((b) => b === 0x03));
});

test('poison also covers memory the pool does not keep (beyond its capacity)', () => {
  const pool = new BufferPool({ size: SIZE, capacityBytes: 0, poison: true });
  const block = pool.take(SIZE);
  block.bytes.fill(0x07);
  block.release();
  assert.equal(pool.idleCount, 0);
  assert.ok(block.bytes.every((b) => b === 0xa5));
});

test('take(length) shorter than size is a view of that length over pooled memory', () => {
  const pool = new BufferPool({ size: SIZE, capacityBytes: 2 * SIZE });
  const short = pool.take(100);
  assert.equal(short.bytes.length, 100);
  assert.equal(short.bytes.buffer.byteLength >= SIZE, true);
  const memory = short.bytes;
  short.release();
  assert.equal(pool.idleCount, 1);
  // The whole block-sized memory is recycled: a full-size take gets it back.
  const full = pool.take(SIZE);
  assert.equal(full.bytes.length, SIZE);
  assert.ok(sameMemory(full.bytes, memory));
  full.release();
  const empty = pool.take(0);
  assert.equal(empty.bytes.length, 0);
  empty.release();
  assert.equal(pool.idleCount, 1);
});

test('take(length) longer than size gives an unpooled buffer of that length', () => {
  const pool = new BufferPool({ size: SIZE, capacityBytes: 2 * SIZE, poison: true });
  const long = pool.take(SIZE + 1);
  assert.equal(long.bytes.length, SIZE + 1);
  long.bytes.fill(0x09);
  long.release();
  assert.equal(pool.idleCount, 0, 'an oversized buffer went into the pool');
  assert.ok(long.bytes.every((b) => b === 0x09), 'unpooled memory is not the pool’s to poison');
  assert.throws(() => long.release(), /released twice/);
  // And later takes never receive it.
  assert.ok(pool.take(SIZE).bytes.buffer !== long.bytes.buffer);
});

test('wrap() gives a buffer no pool owns', () => {
  const bytes = Buffer.from('hello');
  const block = BlockBuffer.wrap(bytes);
  assert.equal(block.bytes, bytes);
  block.retain();
  block.release();
  block.release();
  assert.equal(bytes.toString(), 'hello');
  assert.throws(() => block.retain(), /retained after its last release/);
});
