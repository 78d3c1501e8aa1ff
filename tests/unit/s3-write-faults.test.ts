import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { isCachalotError } from '../../src/errors';
import { RetryingStore } from '../../src/object/retrying-store';
import { S3Store } from '../../src/object/s3-store';
import type { UploadBody } from '../../src/object/types';
import { KiB, MiB, assertSameBytes, patternBytes } from '../support/e2e-helpers';
import { FaultKind, FaultyProxy, S3Operation, startFaultyProxy } from '../support/faulty-proxy';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';

// Writes through a proxy that fails them as a struggling S3 does, with the
// store stack a mount uses (retries over S3Store); what s3rver then holds is
// read back directly, past the proxy.
const POLICY = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5 };
const PARTS = [patternBytes(5 * MiB, 21), patternBytes(5 * MiB + 1, 22), patternBytes(100 * KiB, 23)];

let s3: S3Fixture;
let proxy: FaultyProxy;
let dir: string;
let spool: UploadBody[];
let store: RetryingStore;
let direct: S3Store;
let retried: Array<{ op: string; code: string }>;

before(async () => {
  s3 = await startS3Fixture(['faults']);
  proxy = await startFaultyProxy(s3.endpoint);
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  const options = { bucket: 'faults', requestTimeoutMs: 10_000, maxSockets: 8 };
  store = new RetryingStore(new S3Store({ ...options, endpoint: proxy.endpoint }), POLICY, {
    onRetry: (op, _attempt, err) => retried.push({ op, code: isCachalotError(err) ? err.code : String(err) }),
  });
  direct = new S3Store({ ...options, endpoint: s3.endpoint });
  // The parts one after another in a spool file, as a writer keeps them.
  dir = mkdtempSync(join(tmpdir(), 'cachalot-write-faults-'));
  const path = join(dir, 'spool');
  writeFileSync(path, Buffer.concat(PARTS));
  let start = 0;
  spool = PARTS.map((part) => ({ path, start, end: (start += part.length) }));
});

after(async () => {
  await proxy?.stop();
  await s3?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  retried = [];
  proxy.setPolicy(undefined);
  proxy.resetStats();
});

const failOnce = (kinds: FaultKind[], ops: S3Operation[]) => proxy.setPolicy({ rate: 1, kinds, maxConsecutive: 1, match: (r) => ops.includes(r.op) });

/** Uploads the spool's parts to `key` in parallel and completes the upload. */
async function uploadSpool(key: string) {
  const uploadId = await store.createMultipartUpload(key);
  const parts = await Promise.all(spool.map(async (body, index) => ({ partNumber: index + 1, ...(await store.uploadPart({ key, uploadId, partNumber: index + 1, body })) })));
  return store.completeMultipartUpload({ key, uploadId, parts });
}

/** What s3rver holds under the key, read past the proxy. */
async function held(key: string) {
  const info = await direct.head(key);
  assert.ok(info, `${key} is in S3`);
  return { etag: info.etag, bytes: Buffer.concat(await direct.getRange({ key, start: 0, end: info.size })) };
}

test('every UploadPart and Complete fails once (503, dropped connection): retried, and S3 holds the right bytes', async () => {
  failOnce(['slowdown', 'drop'], ['upload-part', 'complete-upload']);
  const { etag } = await uploadSpool('checkpoint/a');
  const { faultsByOp, faults } = proxy.stats;
  assert.equal(faultsByOp['upload-part'], 3);
  assert.equal(faultsByOp['complete-upload'], 1);
  assert.ok(faults.slowdown > 0 && faults.drop > 0, `both kinds injected: ${JSON.stringify(faults)}`);
  const stored = await held('checkpoint/a');
  assert.equal(stored.etag, etag);
  assert.match(etag, /-3"$/);
  assertSameBytes(stored.bytes, Buffer.concat(PARTS), 'checkpoint/a');
});

test('a Complete that s3rver carried out but whose answer was lost: the retry finds the upload gone and the object there', async () => {
  failOnce(['drop'], ['complete-upload']);
  const { etag } = await uploadSpool('checkpoint/b');
  assert.deepEqual(retried, [{ op: 'complete-upload', code: 'ConnectionLost' }]);
  const stored = await held('checkpoint/b');
  assert.equal(stored.etag, etag);
  assertSameBytes(stored.bytes, Buffer.concat(PARTS), 'checkpoint/b');
});

test('a Complete answered 200 with an error in its body is retried', async () => {
  failOnce(['error-200'], ['complete-upload']);
  const { etag } = await uploadSpool('checkpoint/c');
  assert.deepEqual(retried, [{ op: 'complete-upload', code: 'ServerError' }]);
  assert.equal((await held('checkpoint/c')).etag, etag);
});

test('a PUT and a copy fail once each way (503, dropped connection, 200 with an error): retried, the bytes right', async () => {
  for (const kind of ['slowdown', 'drop', 'error-200'] as FaultKind[]) {
    failOnce([kind], ['put-object', 'copy-object']);
    const { etag } = await store.putObject({ key: `put/${kind}`, body: spool[1] });
    await store.copyObject({ from: `put/${kind}`, to: `copy/${kind}`, size: PARTS[1].length, ifMatch: etag });
    for (const key of [`put/${kind}`, `copy/${kind}`]) assertSameBytes((await held(key)).bytes, PARTS[1], key);
  }
  assert.deepEqual(
    retried.map((r) => r.op),
    ['put', 'copy', 'put', 'copy', 'put', 'copy'],
  );
});

test('an UploadPart that fails every time: the bound gives up (Throttled); aborted, nothing is under the key', async () => {
  proxy.setPolicy({ rate: 1, kinds: ['slowdown'], match: (r) => r.op === 'upload-part' });
  const uploadId = await store.createMultipartUpload('checkpoint/d');
  await assert.rejects(store.uploadPart({ key: 'checkpoint/d', uploadId, partNumber: 1, body: spool[0] }), (err) => isCachalotError(err, 'Throttled'));
  assert.equal(proxy.stats.faultsByOp['upload-part'], POLICY.maxAttempts);
  await store.abortMultipartUpload('checkpoint/d', uploadId);
  assert.equal(await direct.head('checkpoint/d'), undefined);
  await assert.rejects(direct.uploadPart({ key: 'checkpoint/d', uploadId, partNumber: 1, body: Buffer.from('late') }), (err) => isCachalotError(err, 'NoSuchUpload'));
});
