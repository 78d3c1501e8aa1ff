// native/io's memory helpers: page-aligned buffers, and one memory seen by two views.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { addressOf, bufferAt, DIRECT_IO_ALIGNMENT, pageAlignedBuffer } from '../../src/block/native-memory';

test('pageAlignedBuffer starts on a page; bufferAt(addressOf(b)) is the same memory, on this thread and on another', async () => {
  const block = pageAlignedBuffer(3 * DIRECT_IO_ALIGNMENT);
  assert.equal(addressOf(block) % BigInt(DIRECT_IO_ALIGNMENT), 0n);
  block.fill(1);
  const view = bufferAt(addressOf(block) + 5n, 10);
  view.fill(9);
  assert.deepEqual([block[4], block[5], block[14], block[15]], [1, 9, 9, 1]);

  // What the peer client's receiving thread does: write into the event loop's buffer by its address.
  const source = `const { workerData, parentPort } = require('node:worker_threads');
    const { bufferAt } = require(${JSON.stringify(require.resolve('../../src/block/native-memory'))});
    bufferAt(workerData.address, workerData.length).fill(7);
    parentPort.postMessage('done');`;
  const worker = new Worker(source, { eval: true, workerData: { address: addressOf(block), length: DIRECT_IO_ALIGNMENT } });
  await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
  await worker.terminate();
  assert.equal(block[0], 7);
  assert.equal(block[DIRECT_IO_ALIGNMENT - 1], 7);
  assert.equal(block[DIRECT_IO_ALIGNMENT], 1);
});

test('bad arguments are refused, not a crash', () => {
  assert.throws(() => addressOf('x' as unknown as Buffer), /addressOf/);
  assert.throws(() => bufferAt(0n, 10), /bufferAt/);
  assert.throws(() => bufferAt(addressOf(Buffer.alloc(16)), 0), /bufferAt/);
});
