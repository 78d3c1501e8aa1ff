// What the kernel and the daemon agree on through native/fuse (libfuse3):
// sequential reads arrive in large requests (max_pages and the mount's
// readahead window), and an unmount from outside ends the daemon.
//
// Every daemon is ended by its PID and every mount undone in after().
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { Mounted, mountBucket, waitForExit } from '../support/mount-fixture';
import { MiB, assertSameBytes, freePort, hash32, metricsText, patternBytes, putObject, seriesValue } from '../support/e2e-helpers';
import { dropPageCache } from '../support/cache-fixture';

const BUCKET = 'fusereq';
const KEY = 'seq/big.bin';
const BIG = patternBytes(32 * MiB, hash32(KEY));

let s3: S3Fixture;
let mount: Mounted;
let metricsPort: number;

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  await putObject(s3, BUCKET, KEY, BIG);
  metricsPort = await freePort();
  mount = await mountBucket(`s3://${BUCKET}`, s3.env, ['--metrics', `127.0.0.1:${metricsPort}`]);
});

after(async () => {
  await mount?.unmount();
  await s3?.stop();
});

test('the mount reads ahead 1 MiB at a time (sysfs read_ahead_kb)', async () => {
  const { dev } = await stat(mount.mountpoint);
  const bdi = `${(dev >> 8) & 0xfff}:${(dev & 0xff) | ((dev >> 12) & 0xfff00)}`;
  assert.equal((await readFile(`/sys/class/bdi/${bdi}/read_ahead_kb`, 'utf8')).trim(), '1024');
});

test('a cold sequential read arrives in requests of about 1 MiB, and the bytes are right', async (t) => {
  const cannotDrop = dropPageCache();
  if (cannotDrop) return t.skip(cannotDrop);
  const before = await readOps();
  assertSameBytes(await readFile(join(mount.mountpoint, KEY)), BIG, KEY);
  const requests = (await readOps()) - before;
  // 128 KiB requests (libfuse2, or the kernel's default readahead) would take 256.
  assert.ok(requests <= 48, `${requests} read requests for 32 MiB`);
  assert.ok(requests >= 32, `${requests} read requests: fewer than the bytes allow`);
});

test('an unmount from outside ends the daemon', async () => {
  const other = await mountBucket(`s3://${BUCKET}`, s3.env);
  try {
    await promisify(execFile)('umount', [other.mountpoint]);
    assert.ok(await waitForExit(other.pid, 10_000), 'the daemon exits once its mount is gone');
  } finally {
    await other.unmount();
  }
});

/** How many FUSE reads the daemon has answered. */
const readOps = async () => seriesValue(await metricsText(metricsPort), 'cachalot_fuse_op_seconds_count{op="read"}') ?? 0;
