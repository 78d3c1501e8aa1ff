import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, type BlockBuffer } from '../../src/block/block-buffer';
import { BlockOps, parseBlockOpsRequest } from '../../src/block/block-ops';
import { CachingSource } from '../../src/block/caching-source';
import { OriginSource } from '../../src/block/origin-source';
import { Slots } from '../../src/block/slots';
import type { BlockCache, BlockId, BlockRequest, TierStats } from '../../src/block/types';
import { sampleBytes } from '../../src/embedded/sample-dataset';
import { MemoryStore } from '../../src/object/memory-store';

const BLOCK = 64 * 1024;

/** A tier that keeps every block it is offered, but only when the test lets its writes finish. */
class SlowTier implements BlockCache {
  readonly name = 'slow';
  readonly kept = new Map<string, Buffer>();
  writing = 0;
  private readonly finish: Array<() => void> = [];

  async get(): Promise<BlockBuffer | undefined> {
    return undefined;
  }

  async put(id: BlockId, block: BlockBuffer): Promise<void> {
    this.writing++;
    await new Promise<void>((resolve) => this.finish.push(resolve));
    this.kept.set(`${id.key}#${id.index}`, Buffer.from(block.bytes));
    this.writing--;
  }

  contains(id: BlockId): boolean {
    return this.kept.has(`${id.key}#${id.index}`);
  }

  async remove(id: BlockId): Promise<void> {
    this.kept.delete(`${id.key}#${id.index}`);
  }

  /** Lets every write waiting so far complete. */
  drain(): void {
    this.finish.splice(0).forEach((resolve) => resolve());
  }


  stats(): TierStats[] {
    return [];
  }
}

test('slots: at most limit holders, the rest served in arrival order', async () => {
  const slots = new Slots(2);
  const order: number[] = [];
  await slots.acquire();
  await slots.acquire();
  const third = slots.acquire().then(() => order.push(3));
  const fourth = slots.acquire().then(() => order.push(4));
  await Promise.resolve();
  assert.equal(slots.inUse, 2);
  assert.deepEqual(order, []);
  slots.release();
  await third;
  slots.release();
  await fourth;
  assert.deepEqual(order, [3, 4]);
  slots.release();
  slots.release();
  assert.equal(slots.inUse, 0);
  assert.throws(() => new Slots(0), RangeError);
});

test('a read faster than the tiers write waits for them: no block goes uncached, at most maxFilling in flight', async () => {
  const store = new MemoryStore('b');
  const blocks = 12;
  const bytes = sampleBytes('gate', blocks * BLOCK);
  const info = store.put('f', bytes);
  let loading = 0;
  let peakLoading = 0;
  const origin = new OriginSource(store, new BufferPool({ size: BLOCK }));
  const counted = {
    load: async (request: BlockRequest) => {
      peakLoading = Math.max(peakLoading, ++loading);
      try {
        return await origin.load(request);
      } finally {
        loading--;
      }
    },
  };
  const tier = new SlowTier();
  const source = new CachingSource(tier, counted, 3);
  const request = (index: number): BlockRequest => ({ bucket: 'b', key: 'f', etag: info.etag, index, objectSize: bytes.length, blockSize: BLOCK });

  const reads = Array.from({ length: blocks }, (_, i) =>
    source.load(request(i)).then((block) => {
      assert.ok(block.bytes.equals(bytes.subarray(i * BLOCK, (i + 1) * BLOCK)), `block ${i}`);
      block.release();
    }),
  );
  let done = 0;
  reads.forEach((r) => r.then(() => done++));
  while (done < blocks) {
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(tier.writing + loading <= 3, `${tier.writing} writes + ${loading} loads in flight`);
    tier.drain();
  }
  await Promise.all(reads);
  await new Promise((resolve) => setImmediate(resolve));
  tier.drain();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(tier.kept.size, blocks, 'every block was offered to the tier');
  assert.ok(peakLoading <= 3, `peak loads in flight ${peakLoading}`);
});

test('a block whose tiers are still storing it is served from memory, not fetched again', async () => {
  const store = new MemoryStore('b');
  const bytes = sampleBytes('window', BLOCK);
  const info = store.put('f', bytes);
  let loads = 0;
  const origin = new OriginSource(store, new BufferPool({ size: BLOCK }));
  const tier = new SlowTier();
  const source = new CachingSource(tier, { load: (r) => (loads++, origin.load(r)) }, 4);
  const request: BlockRequest = { bucket: 'b', key: 'f', etag: info.etag, index: 0, objectSize: bytes.length, blockSize: BLOCK };
  (await source.load(request)).release();
  assert.equal(tier.writing, 1, 'the tier is still writing the block');
  const again = await source.load(request);
  assert.ok(again.bytes.equals(bytes));
  again.release();
  assert.equal(loads, 1, 'one fetch for both reads');
  tier.drain();
});

test('slots: foreground waiters go before background ones, background holders leave room, a raised ticket jumps the queue', async () => {
  const slots = new Slots(4, 3);
  const order: string[] = [];
  const background = Array.from({ length: 4 }, () => slots.request(true));
  background.forEach((slot, i) => slot.granted.then(() => order.push(`bg${i}`)));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['bg0', 'bg1', 'bg2'], 'at most 3 background holders');
  const read = slots.request(false);
  read.granted.then(() => order.push('read'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(order.at(-1), 'read', 'the free slot goes to the read at once');
  const later = slots.request(true);
  later.granted.then(() => order.push('later'));
  const read2 = slots.request(false);
  read2.granted.then(() => order.push('read2'));
  background[3].raise();
  background[0].release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(order.at(-1), 'read2', 'a waiting read before the raised background ticket');
  background[1].release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(order.at(-1), 'bg3', 'the raised ticket before a background one that came first');
  for (const slot of [background[2], background[3], read, read2]) slot.release();
  await later.granted;
  later.release();
  assert.equal(slots.inUse, 0);
});

test('slots: background tickets of one tag that wait together are granted together; a group too large goes one by one', async () => {
  const slots = new Slots(4, 3);
  const order: string[] = [];
  const track = (name: string, background: boolean, tag?: string) => {
    const slot = slots.request(background, tag);
    void slot.granted.then(() => order.push(name));
    return slot;
  };
  const held = [track('h0', true), track('h1', true)];
  const [a0, a1] = [track('a0', true, 'pair-a'), track('a1', true, 'pair-a')];
  const b0 = track('b0', true, 'pair-b');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['h0', 'h1'], 'one background slot free: the pair waits for two, and b0 behind it');
  held[0].release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['h0', 'h1', 'a0', 'a1'], 'two free: the pair at once');
  for (const slot of [held[1], a0, a1]) slot.release();
  await b0.granted;
  b0.release();
  // Four of one tag with three background slots: never whole, so one by one.
  const many = Array.from({ length: 4 }, (_, i) => track(`m${i}`, true, 'big'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order.slice(-3), ['m0', 'm1', 'm2']);
  many[0].release();
  await many[3].granted;
  for (const slot of many.slice(1)) slot.release();
  assert.equal(slots.inUse, 0);
});

test('warm: loads a block into the tiers once and reports cached blocks without reading them', async () => {
  const store = new MemoryStore('b');
  const bytes = sampleBytes('warm', 3 * BLOCK);
  const info = store.put('f', bytes);
  let loads = 0;
  const origin = new OriginSource(store, new BufferPool({ size: BLOCK }));
  const tier = new SlowTier();
  // Five slots, two kept for reads: room for the three blocks' fills, their writes held by the tier.
  const source = new CachingSource(tier, { load: (r) => (loads++, origin.load(r)) }, 5);
  const request = (index: number): BlockRequest => ({ bucket: 'b', key: 'f', etag: info.etag, index, objectSize: bytes.length, blockSize: BLOCK });
  // warm resolves once the block is fetched, its disk write still going on; stored() waits for the writes.
  assert.deepEqual(await Promise.all([0, 1, 2, 0].map((i) => source.warm(request(i)))), ['loaded', 'loaded', 'loaded', 'loaded']);
  assert.equal(loads, 3, 'one fetch per block');
  assert.equal(tier.kept.size, 0, 'warm waited for the tier');
  let stored = false;
  const storing = source.stored().then(() => (stored = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stored, false, 'stored() before the tier took the blocks');
  tier.drain();
  await storing;
  assert.equal(tier.kept.size, 3);
  assert.equal(await source.warm(request(1)), 'cached');
  assert.equal(loads, 3);
  // The node's side of `cachalot warmup` counts each block (metrics: warm-up progress).
  const counted: Array<[string, string, number]> = [];
  const ops = new BlockOps({ source, cache: tier, blockSize: BLOCK, onResult: (op, outcome, n) => counted.push([op, outcome, n]) });
  const reply = await ops.run({ op: 'warm', pin: false, blocks: [request(2), request(1)] });
  assert.deepEqual(reply.results.map((r) => r.outcome), ['cached', 'cached']);
  assert.deepEqual(counted, [['warm', 'cached', BLOCK], ['warm', 'cached', BLOCK]]);
});

test('flush answers once every block fetched so far is stored, and takes no blocks', async () => {
  const store = new MemoryStore('b');
  const bytes = sampleBytes('flush', 2 * BLOCK);
  const info = store.put('f', bytes);
  const tier = new SlowTier();
  const source = new CachingSource(tier, new OriginSource(store, new BufferPool({ size: BLOCK })), 4);
  const ops = new BlockOps({ source, cache: tier, blockSize: BLOCK });
  const request = (index: number): BlockRequest => ({ bucket: 'b', key: 'f', etag: info.etag, index, objectSize: bytes.length, blockSize: BLOCK });
  const loaded = await ops.run({ op: 'warm', pin: false, blocks: [request(0), request(1)] });
  assert.deepEqual(loaded.results.map((r) => r.outcome), ['loaded', 'loaded']);
  let flushed = false;
  const flushing = ops.run({ op: 'flush', pin: false, blocks: [] }).then((reply) => ((flushed = true), reply));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(flushed, false, 'flush answered with two writes going on');
  tier.drain();
  assert.deepEqual((await flushing).results, []);
  assert.equal(tier.kept.size, 2);
  assert.throws(() => parseBlockOpsRequest({ op: 'flush', blocks: [request(0)] }), /flush takes no blocks/);
});

test('a read of a block that a warm-up waits to fetch is not held behind other background work', async () => {
  const store = new MemoryStore('b');
  const bytes = sampleBytes('prio', 8 * BLOCK);
  const info = store.put('f', bytes);
  const gates: Array<() => void> = [];
  const origin = new OriginSource(store, new BufferPool({ size: BLOCK }));
  const source = new CachingSource(new SlowTier(), { load: async (r) => (await new Promise<void>((go) => gates.push(go)), origin.load(r)) }, 4);
  const request = (index: number): BlockRequest => ({ bucket: 'b', key: 'f', etag: info.etag, index, objectSize: bytes.length, blockSize: BLOCK });
  // Three warm fills of blocks of three pairs: two hold the background slots (two of four are kept for reads), the third waits.
  for (const i of [0, 2, 4]) void source.warm(request(i)).catch(() => {});
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  await turns(2);
  assert.equal(gates.length, 2, 'two of four slots for background fills');
  // A read of the waiting block: raised to a read, it takes a free slot at once.
  const read = source.load(request(4));
  await turns(1);
  assert.equal(gates.length, 3, "the read's fetch started without waiting for the warm-up");
  gates.splice(0).forEach((go) => go());
  (await read).release();
});
