// How warm-up hands a node its blocks: one GET's worth (two blocks) a call,
// never more than --parallel blocks loading at once on a node, every block
// answered once, loads that follow each other without waiting for a batch,
// and loads that start while the listing still finds blocks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BlockOpsRequest, BlockOpsReply } from '../../src/block/block-ops';
import { dispatch } from '../../src/warmup/dispatch';
import type { LoadingNode, Unit } from '../../src/warmup/plan';
import { UnitQueue } from '../../src/warmup/unit-queue';

function units(count: number, key = 'k'): Unit[] {
  const object = { name: `s3://b/${key}`, size: count * 8, pending: count };
  return Array.from({ length: count }, (_, index) => ({ block: { bucket: 'b', key, etag: '"e"', index, objectSize: count * 8, blockSize: 8 }, length: 8, object }));
}

/** A node whose loads take a little while each; it counts what it was asked. */
function countingNode() {
  const stats = { inFlight: 0, maxInFlight: 0, largestCall: 0, calls: 0, flushes: 0 };
  const node: LoadingNode = {
    name: 'n',
    run: async (request: BlockOpsRequest): Promise<BlockOpsReply> => {
      if (request.op === 'flush') {
        assert.equal(stats.inFlight, 0, 'flushed with loads in flight');
        stats.flushes++;
        return { results: [], blockSize: 8, pinnedBytes: 0, pinCapacityBytes: 0 };
      }
      stats.calls++;
      stats.largestCall = Math.max(stats.largestCall, request.blocks.length);
      stats.inFlight += request.blocks.length;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      stats.inFlight -= request.blocks.length;
      return { results: request.blocks.map(() => ({ outcome: 'loaded', pinned: false, errorCode: '', error: '' })), blockSize: 8, pinnedBytes: 0, pinCapacityBytes: 0 };
    },
  };
  return { node, stats };
}

for (const parallel of [1, 3, 16]) {
  test(`loads at --parallel ${parallel}: calls of at most two blocks, at most ${parallel} loading, every block answered once`, async () => {
    const { node, stats } = countingNode();
    const answered = new Map<number, number>();
    await dispatch(new Map([[node, UnitQueue.of(units(50))]]), {
      op: 'warm',
      pin: false,
      parallel,
      stopped: () => false,
      onResult: (_node, unit, result) => {
        assert.equal(result.outcome, 'loaded');
        answered.set(unit.block.index, (answered.get(unit.block.index) ?? 0) + 1);
      },
    });
    assert.deepEqual([...answered.keys()].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
    assert.ok([...answered.values()].every((n) => n === 1));
    assert.ok(stats.largestCall <= 2, `a call of ${stats.largestCall} blocks`);
    assert.ok(stats.maxInFlight <= parallel, `${stats.maxInFlight} blocks loading at once`);
    // Enough calls at once to keep the node busy: all of --parallel (rounded down to whole calls).
    assert.equal(stats.maxInFlight, parallel === 3 ? 2 : parallel);
    assert.equal(stats.flushes, 1, 'one flush, after the last load');
  });
}

test('loading starts with the first blocks listed and goes on as more come; an object\'s blocks pushed together go out together', async () => {
  const { node, stats } = countingNode();
  const queue = new UnitQueue();
  const all = units(40);
  const answered: number[] = [];
  const loading = dispatch(new Map([[node, queue]]), {
    op: 'warm',
    pin: false,
    parallel: 16,
    stopped: () => false,
    onResult: (_node, unit) => answered.push(unit.block.index),
  });
  // The listing finds 10 objects' worth of 4 blocks, a page every 5 ms.
  for (let page = 0; page < 10; page++) {
    for (const unit of all.slice(page * 4, page * 4 + 4)) queue.push(unit);
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (page === 0) assert.ok(stats.calls > 0, 'the first page is loading before the listing ends');
  }
  queue.close();
  await loading;
  assert.deepEqual([...answered].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
  assert.equal(stats.calls, 20, 'every call two blocks: none split by the listing\'s pace');
});

test('a call\'s two blocks are consecutive blocks of one object, one GET\'s worth', async () => {
  const calls: string[] = [];
  const node: LoadingNode = {
    name: 'n',
    run: async (request: BlockOpsRequest): Promise<BlockOpsReply> => {
      calls.push(request.op === 'flush' ? 'flush' : request.blocks.map((b) => `${b.key}${b.index}`).join('+'));
      return { results: request.blocks.map(() => ({ outcome: 'loaded', pinned: false, errorCode: '', error: '' })), blockSize: 8, pinnedBytes: 0, pinCapacityBytes: 0 };
    },
  };
  // What a node of a cluster is given: the spans it owns (blocks 2n, 2n+1), an object of an odd count of blocks, then the next object.
  const mine = [...units(8, 'a').filter((u) => [0, 1, 4, 5, 6].includes(u.block.index)), ...units(4, 'b')];
  await dispatch(new Map([[node, UnitQueue.of(mine)]]), { op: 'warm', pin: false, parallel: 2, stopped: () => false, onResult: () => {} });
  assert.deepEqual(calls, ['a0+a1', 'a4+a5', 'a6', 'b0+b1', 'b2+b3', 'flush']);
});

test('a node that loaded nothing is not flushed; one whose flush fails is reported by name', async () => {
  const idle = countingNode();
  await dispatch(new Map([[idle.node, UnitQueue.of([])]]), { op: 'warm', pin: false, parallel: 4, stopped: () => false, onResult: () => {} });
  assert.equal(idle.stats.flushes, 0);
  const failing: LoadingNode = {
    name: 'n2 (127.0.0.1:9)',
    run: async (request) => {
      if (request.op === 'flush') throw new Error('connection reset');
      return { results: request.blocks.map(() => ({ outcome: 'loaded', pinned: false, errorCode: '', error: '' })), blockSize: 8, pinnedBytes: 0, pinCapacityBytes: 0 };
    },
  };
  const failures: string[] = [];
  await dispatch(new Map([[failing, UnitQueue.of(units(4))]]), {
    op: 'warm',
    pin: false,
    parallel: 4,
    stopped: () => false,
    onResult: () => {},
    onFlushFailed: (node, failure) => failures.push(`${node.name}: ${failure.error}`),
  });
  assert.deepEqual(failures, ['n2 (127.0.0.1:9): flush: connection reset']);
});
