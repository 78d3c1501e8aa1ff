import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCachalotError } from '../../src/errors';
import { FailingStore } from '../../src/object/failing-store';
import { InstrumentedStore } from '../../src/object/instrumented-store';
import { MemoryStore } from '../../src/object/memory-store';
import { Metrics } from '../../src/obs/metrics';

test('writes are counted by operation; bytes S3 took in PUTs and parts, failed ones not', async () => {
  const metrics = new Metrics();
  const failing = new FailingStore(new MemoryStore());
  const store = new InstrumentedStore(failing, metrics);
  await store.putObject({ key: 'a', body: Buffer.alloc(1000) });
  const uploadId = await store.createMultipartUpload('b');
  const part = await store.uploadPart({ key: 'b', uploadId, partNumber: 1, body: Buffer.alloc(300) });
  failing.inject({ operations: ['upload-part'], code: 'Throttled', times: 1 });
  await assert.rejects(store.uploadPart({ key: 'b', uploadId, partNumber: 2, body: Buffer.alloc(50) }), (err) => isCachalotError(err, 'Throttled'));
  await store.completeMultipartUpload({ key: 'b', uploadId, parts: [{ partNumber: 1, ...part }] });
  await store.abortMultipartUpload('b', uploadId);
  await store.copyObject({ from: 'a', to: 'c', size: 1000 });
  await store.deleteObject('a');

  assert.equal((await metrics.s3PutBytes.get()).values[0].value, 1300);
  const requests = Object.fromEntries((await metrics.s3Requests.get()).values.map((v) => [v.labels.op, v.value]));
  assert.deepEqual(requests, { put: 1, 'create-upload': 1, 'upload-part': 2, 'complete-upload': 1, 'abort-upload': 1, copy: 1, delete: 1 });
  const errors = (await metrics.s3Errors.get()).values.map((v) => ({ ...v.labels, value: v.value }));
  assert.deepEqual(errors, [{ op: 'upload-part', code: 'Throttled', value: 1 }]);
});
