import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCachalotError } from '../../src/errors';
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
  assert.equal((await store.getRange({ key: 'k', start: 2, end: 5 })).toString(), '234');
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
