import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CachalotError, isCachalotError } from '../../src/errors';
import { FailingStore } from '../../src/object/failing-store';
import { MemoryStore } from '../../src/object/memory-store';
import { RetryingStore } from '../../src/object/retrying-store';

const FAST = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

function stack() {
  const memory = new MemoryStore();
  memory.put('k', Buffer.from('0123456789'));
  const failing = new FailingStore(memory);
  const retries: string[] = [];
  const gaveUp: string[] = [];
  const store = new RetryingStore(failing, FAST, {
    onRetry: (op) => retries.push(op),
    onGiveUp: (op) => gaveUp.push(op),
  });
  return { memory, failing, store, retries, gaveUp };
}

test('throttling, 5xx, timeouts and dropped connections are retried until they pass', async () => {
  const { failing, store, retries } = stack();
  failing.inject({ code: 'Throttled', times: 1 });
  failing.inject({ code: 'ServerError', times: 1 });
  failing.inject({ code: 'ConnectionLost', times: 1 });
  assert.equal((await store.getRange({ key: 'k', start: 2, end: 5 }))[0].toString(), '234');
  assert.deepEqual(retries, ['get', 'get', 'get']);
});

test('retries are bounded: after maxAttempts the error goes up and is reported once', async () => {
  const { failing, store, gaveUp } = stack();
  failing.inject({ code: 'Throttled', times: Infinity });
  await assert.rejects(store.getRange({ key: 'k', start: 0, end: 1 }), (err) => isCachalotError(err, 'Throttled'));
  assert.equal(failing.injected.get, FAST.maxAttempts);
  assert.deepEqual(gaveUp, ['get']);
});

test('errors that cannot pass by waiting are not retried', async () => {
  const { failing, store, retries } = stack();
  failing.inject({ code: 'AccessDenied', times: 1 });
  await assert.rejects(store.head('k'), (err) => isCachalotError(err, 'AccessDenied'));
  await assert.rejects(store.getRange({ key: 'k', start: 0, end: 1, ifMatch: '"other"' }), (err) =>
    isCachalotError(err, 'PreconditionFailed'),
  );
  assert.deepEqual(retries, []);
});

test('listing and head are retried too', async () => {
  const { failing, store } = stack();
  failing.inject({ operations: ['list'], code: 'Timeout', times: 2 });
  failing.inject({ operations: ['head'], code: 'ServerError', times: 2 });
  assert.equal((await store.list({ prefix: '' })).objects.length, 1);
  assert.equal((await store.head('k'))?.size, 10);
});

test('a GET into several buffers that fails part way is retried for the buffers not yet full only', async () => {
  const memory = new MemoryStore();
  memory.put('k', Buffer.from('0123456789'));
  const asked: Array<{ start: number; buffers: number }> = [];
  // Fills what it was asked for up to `cut` bytes of the object, then drops the connection, once.
  let cut: number | undefined = 6;
  const flaky = Object.create(memory) as MemoryStore;
  flaky.getRange = async (request) => {
    asked.push({ start: request.start, buffers: request.into!.length });
    if (cut === undefined) return memory.getRange(request);
    let at = request.start;
    for (const [index, part] of request.into!.entries()) {
      if (at + part.length > cut) break;
      await memory.getRange({ key: request.key, start: at, end: at + part.length, into: [part] });
      request.onFilled?.(index);
      at += part.length;
    }
    cut = undefined;
    throw new CachalotError('ConnectionLost', 'dropped');
  };
  const store = new RetryingStore(flaky, FAST);
  const into = [Buffer.alloc(3), Buffer.alloc(3), Buffer.alloc(4)];
  const filled: number[] = [];
  await store.getRange({
    key: 'k',
    start: 0,
    end: 10,
    into,
    onFilled: (index) => {
      filled.push(index);
      // A full buffer is in its reader's hands: spoil it to see whether the retry writes it again.
      if (index < 2) into[index].fill(0x2a);
    },
  });
  assert.deepEqual(filled, [0, 1, 2]);
  assert.deepEqual(asked, [{ start: 0, buffers: 3 }, { start: 6, buffers: 1 }]);
  assert.ok([into[0], into[1]].every((part) => part.every((b) => b === 0x2a)), 'buffers reported full were written again');
  assert.equal(into[2].toString(), '6789');
});
