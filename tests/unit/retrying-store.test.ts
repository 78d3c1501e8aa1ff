import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CachalotError, isCachalotError } from '../../src/errors';
import { FailingStore } from '../../src/object/failing-store';
import { MemoryStore } from '../../src/object/memory-store';
import { RetryingStore } from '../../src/object/retrying-store';
import { readBody } from '../../src/object/upload-body';

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

test('every write is retried under its own name', async () => {
  const { failing, store, retries } = stack();
  for (const op of ['put', 'create-upload', 'upload-part', 'complete-upload', 'abort-upload', 'delete', 'copy'] as const) {
    failing.inject({ operations: [op], code: 'ServerError', times: 1 });
  }
  await store.putObject({ key: 'p', body: Buffer.from('put') });
  const uploadId = await store.createMultipartUpload('m');
  const part = await store.uploadPart({ key: 'm', uploadId, partNumber: 1, body: Buffer.from('part') });
  await store.completeMultipartUpload({ key: 'm', uploadId, parts: [{ partNumber: 1, ...part }] });
  await store.abortMultipartUpload('m', await store.createMultipartUpload('m'));
  await store.copyObject({ from: 'p', to: 'c', size: 3 });
  await store.deleteObject('p');
  assert.deepEqual(retries, ['put', 'create-upload', 'upload-part', 'complete-upload', 'abort-upload', 'copy', 'delete']);
});

test('a part that failed is sent again from its file range, the same bytes read anew', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-retry-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'spool');
  writeFileSync(path, Buffer.from('xxxxPART-BYTESyyyy'));
  const memory = new MemoryStore();
  const sent: Array<{ body: unknown; bytes: string }> = [];
  // Reads the body as S3Store would (anew for each attempt), then fails the first attempt with a 503.
  const flaky = Object.create(memory) as MemoryStore;
  flaky.uploadPart = async (request) => {
    sent.push({ body: request.body, bytes: (await readBody(request.body)).toString() });
    if (sent.length === 1) throw new CachalotError('Throttled', '503 SlowDown');
    return memory.uploadPart(request);
  };
  const store = new RetryingStore(flaky, FAST);
  const uploadId = await memory.createMultipartUpload('k');
  const body = { path, start: 4, end: 14 };
  const part = await store.uploadPart({ key: 'k', uploadId, partNumber: 1, body });
  assert.deepEqual(sent, [{ body, bytes: 'PART-BYTES' }, { body, bytes: 'PART-BYTES' }]);
  await memory.completeMultipartUpload({ key: 'k', uploadId, parts: [{ partNumber: 1, ...part }] });
  assert.equal((await memory.getRange({ key: 'k', start: 0, end: 10 }))[0].toString(), 'PART-BYTES');
});

test('retries of writes are bounded: after maxAttempts the error goes up, reported once, and no object appears', async () => {
  const { memory, failing, store, gaveUp } = stack();
  failing.inject({ operations: ['upload-part'], code: 'Throttled', times: Infinity });
  const uploadId = await store.createMultipartUpload('w');
  await assert.rejects(store.uploadPart({ key: 'w', uploadId, partNumber: 1, body: Buffer.from('bytes') }), (err) => isCachalotError(err, 'Throttled'));
  assert.equal(failing.injected['upload-part'], FAST.maxAttempts);
  assert.deepEqual(gaveUp, ['upload-part']);
  await store.abortMultipartUpload('w', uploadId);
  assert.equal(await memory.head('w'), undefined);
});

/** An upload of one part to `key`, ready to complete. */
async function oneUpload(memory: MemoryStore, key: string) {
  const uploadId = await memory.createMultipartUpload(key);
  const part = await memory.uploadPart({ key, uploadId, partNumber: 1, body: Buffer.from(`bytes of ${key}`) });
  return { key, uploadId, parts: [{ partNumber: 1, ...part }] };
}

test('a Complete that completed but lost its answer: the retry finds the upload gone and the key holding its object: done', async () => {
  const { memory, failing, store, retries } = stack();
  const request = await oneUpload(memory, 'c');
  failing.inject({ operations: ['complete-upload'], code: 'ConnectionLost', times: 1, answerLost: true });
  const { etag } = await store.completeMultipartUpload(request);
  assert.deepEqual(retries, ['complete-upload']);
  assert.equal(etag, (await memory.head('c'))?.etag);
  assert.match(etag, /-1"$/);
});

test('a Complete retried into NoSuchUpload fails when the key does not hold the object its parts make', async () => {
  const { memory, failing } = stack();
  // Someone else's object lands under the key after the lost answer.
  const overwrite = new RetryingStore(failing, FAST, { onRetry: () => memory.put('c', 'another writer') });
  const request = await oneUpload(memory, 'c');
  failing.inject({ operations: ['complete-upload'], code: 'ConnectionLost', times: 1, answerLost: true });
  await assert.rejects(overwrite.completeMultipartUpload(request), (err) => isCachalotError(err, 'NoSuchUpload'));

  // The upload aborted meanwhile, nothing under the key.
  const second = await oneUpload(memory, 'd');
  const abort = new RetryingStore(failing, FAST, { onRetry: () => void memory.abortMultipartUpload('d', second.uploadId) });
  failing.inject({ operations: ['complete-upload'], code: 'Throttled', times: 1 });
  await assert.rejects(abort.completeMultipartUpload(second), (err) => isCachalotError(err, 'NoSuchUpload'));
  assert.equal(await memory.head('d'), undefined);
});

test('a first Complete that finds no upload fails at once, without asking what the key holds', async () => {
  const { memory, store } = stack();
  const request = await oneUpload(memory, 'e');
  await memory.completeMultipartUpload(request);
  const heads = memory.calls.head;
  await assert.rejects(store.completeMultipartUpload(request), (err) => isCachalotError(err, 'NoSuchUpload'));
  assert.equal(memory.calls.head, heads);
});
