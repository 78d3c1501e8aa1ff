// Injected S3 faults on uploads, between a mount and s3rver
// (tests/support/faulty-proxy.ts): 503 SlowDown, 500 InternalError and
// connections dropped mid-request on UploadPart, CompleteMultipartUpload and
// PutObject are retried, and the object in S3 is byte for byte what was
// written; an upload that keeps failing makes close() fail with EIO and
// creates no key.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FaultyProxy, startFaultyProxy } from '../support/faulty-proxy';
import { Mounted, mountBucket } from '../support/mount-fixture';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { MiB, assertSameBytes, patternBytes, testSeed } from '../support/e2e-helpers';
import { statsOf } from '../support/cache-fixture';

const BUCKET = 'write-faults';
const PART = 8 * MiB;

let s3: S3Fixture;
let proxy: FaultyProxy;
let mount: Mounted;
let work: string;

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  proxy = await startFaultyProxy(s3.endpoint, { seed: testSeed() });
  work = mkdtempSync(join(tmpdir(), 'cachalot-write-faults-'));
  mount = await mountBucket(`s3://${BUCKET}`, s3.env, ['--endpoint', proxy.endpoint, '--block-size', '1MiB']);
});

after(async () => {
  proxy?.setPolicy(undefined);
  await mount?.unmount();
  await proxy?.stop();
  await s3?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const inS3 = (key: string) => s3.get(BUCKET, key);

describe('S3 faults on uploads', () => {
  for (const kind of ['slowdown', 'internal', 'drop'] as const) {
    test(`${kind} on every other UploadPart, CompleteMultipartUpload and PutObject: retried, the bytes stored right`, async () => {
      const ops = new Set(['upload-part', 'complete-upload', 'put-object']);
      proxy.setPolicy({ rate: 1, kinds: [kind], maxConsecutive: 1, match: (r) => ops.has(r.op) });
      try {
        const big = patternBytes(3 * PART + 99, kind.length);
        const small = patternBytes(300 * 1024, kind.length + 1);
        await writeFile(join(mount.mountpoint, `${kind}-big.bin`), big);
        await writeFile(join(mount.mountpoint, `${kind}-small.bin`), small);
        assertSameBytes((await inS3(`${kind}-big.bin`))!, big, 'multipart upload through faults');
        assertSameBytes((await inS3(`${kind}-small.bin`))!, small, 'single PUT through faults');
        assert.ok(proxy.stats.faultsByOp['upload-part'] >= 1 && proxy.stats.faultsByOp['complete-upload'] >= 1, 'faults were injected');
      } finally {
        proxy.setPolicy(undefined);
      }
    });
  }

  test('a part that keeps failing: close() fails with EIO, no key is created, the upload counts as failed', async () => {
    const before = await statsOf(mount.mountpoint, s3.env);
    proxy.setPolicy({ rate: 1, kinds: ['internal'], match: (r) => r.op === 'upload-part' });
    try {
      const handle = await open(join(mount.mountpoint, 'doomed.bin'), 'w');
      const failed = await (async () => {
        try {
          await handle.write(patternBytes(3 * PART, 9));
          await handle.close();
          return undefined;
        } catch (err) {
          await handle.close().catch(() => undefined);
          return err as NodeJS.ErrnoException;
        }
      })();
      assert.equal(failed?.code, 'EIO', 'the write or the close says the file was not stored');
    } finally {
      proxy.setPolicy(undefined);
    }
    assert.equal(await inS3('doomed.bin'), undefined, 'no key');
    const after = await statsOf(mount.mountpoint, s3.env);
    assert.equal(after.writes.files.failed - before.writes.files.failed, 1);
  });
});
