// Versions never mix: an open file is pinned to the ETag it opened, an object
// changed under a reader fails the read with EIO, and the next open after the
// metadata TTL reads the new version whole. Unchanged files keep the kernel's
// page cache across opens (no new S3 GET bytes).
//
// s3rver ignores If-Match, so the daemon must check the ETag of each ranged GET
// answer itself: these tests go through that path.
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Mounted, mountBucket } from '../support/mount-fixture';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { MiB, assertSameBytes, freePort, patternBytes, putObject, scrapeMetric, sleep, waitFor } from '../support/e2e-helpers';

const BUCKET = 'consistency';
const SIZE = 16 * MiB;
const GET_BYTES = 'cachalot_s3_get_bytes_total';

let s3: S3Fixture;
let mount: Mounted;
let metricsPort: number;
const putAt = new Map<string, number>();

async function putTimed(key: string, bytes: Buffer): Promise<void> {
  await putObject(s3, BUCKET, key, bytes);
  putAt.set(key, Date.now());
}

async function lastModified(key: string): Promise<number> {
  const head = await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
  return head.LastModified!.getTime();
}

/** S3 LastModified has one-second precision: wait until an overwrite of key gets a different one. */
async function waitForNextSecond(key: string): Promise<void> {
  const since = Date.now() - (putAt.get(key) ?? 0);
  if (since < 1100) await sleep(1100 - since);
}

/** The GET byte counter once it has stopped moving (prefetches settled). */
async function settledGetBytes(): Promise<number> {
  let last = await scrapeMetric(metricsPort, GET_BYTES);
  for (let i = 0; i < 40; i++) {
    await sleep(100);
    const now = await scrapeMetric(metricsPort, GET_BYTES);
    if (now === last && i >= 2) return now;
    last = now;
  }
  return last;
}

const v1 = patternBytes(SIZE, 1);
const v2 = patternBytes(SIZE, 2);

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  await putTimed('changing.bin', v1);
  await putTimed('cached.bin', patternBytes(8 * MiB + 3, 3));
  metricsPort = await freePort();
  mount = await mountBucket(`s3://${BUCKET}`, s3.env, ['--block-size', '1MiB', '--metadata-ttl', '1s', '--metrics', `127.0.0.1:${metricsPort}`]);
});

after(async () => {
  await mount?.unmount().catch((err) => console.error('unmount:', err));
  await s3?.stop();
});

describe('object changed under an open file', () => {
  test('the read fails with EIO (never bytes of the new version), and a fresh open after the TTL reads the new version whole', async (t) => {
    const path = join(mount.mountpoint, 'changing.bin');
    const handle = await open(path);
    let failedAt: number | undefined;
    let oldBytes = 0;
    try {
      const chunk = Buffer.alloc(MiB);
      const first = await handle.read(chunk, 0, MiB, 0);
      assert.equal(first.bytesRead, MiB);
      assertSameBytes(chunk, v1.subarray(0, MiB), 'first MiB (before the overwrite)');

      await waitForNextSecond('changing.bin');
      const previous = await lastModified('changing.bin');
      await putTimed('changing.bin', v2);
      assert.notEqual(await lastModified('changing.bin'), previous, 'the overwrite has a new LastModified');

      // Read on, 1 MiB at a time. A read may come back short (Linux returns what it copied before a page
      // failed); the next one then starts where it stopped.
      let position = MiB;
      for (let reads = 0; position < SIZE && reads < 100; reads++) {
        chunk.fill(0xee);
        let bytesRead: number;
        try {
          ({ bytesRead } = await handle.read(chunk, 0, MiB, position));
        } catch (err) {
          assert.equal((err as NodeJS.ErrnoException).code, 'EIO', `a failed read fails with EIO (at ${position})`);
          failedAt = position;
          break;
        }
        assert.ok(bytesRead > 0, `no early end of file at ${position}`);
        // Blocks fetched before the overwrite may still be served: they must be the old version.
        const got = chunk.subarray(0, bytesRead);
        const old = v1.subarray(position, position + bytesRead);
        if (!got.equals(old)) {
          const fresh = v2.subarray(position, position + bytesRead);
          const pages = Math.ceil(bytesRead / 4096);
          const mixed = [...Array(pages).keys()].some((p) => got.subarray(p * 4096, (p + 1) * 4096).equals(fresh.subarray(p * 4096, (p + 1) * 4096)));
          assert.fail(`read at ${position} returned bytes that are not the opened version${mixed ? ' (bytes of the new version mixed in)' : ''}`);
        }
        oldBytes += bytesRead;
        position += bytesRead;
      }
    } finally {
      await handle.close();
    }
    t.diagnostic(`EIO at offset ${failedAt}; ${oldBytes} bytes of the old version served after the first MiB`);
    assert.notEqual(failedAt, undefined, `a read after the overwrite failed with EIO (${oldBytes} bytes of the old version were still served after the first MiB)`);

    // The next open, once the metadata TTL (1 s) has passed, sees the new version, whole.
    await sleep(1500);
    assertSameBytes(await readFile(path), v2, 'fresh open after the TTL');
  });

  test('a same-size overwrite within the same second is seen by the next open after the TTL', async (t) => {
    // S3's LastModified has one-second precision, so an overwrite within the second keeps size and mtime
    // although the ETag changed. The kernel keeps a file's page cache across opens while size and mtime
    // stay the same (auto_cache): the next open after the TTL must still read the new version.
    const size = 300 * 1024;
    for (let attempt = 1; attempt <= 5; attempt++) {
      // A folder never listed before: its first lookup goes to S3, so the object is visible at once.
      const key = `same-second-${attempt}/v.bin`;
      const path = join(mount.mountpoint, key);
      const a = patternBytes(size, 100 + attempt);
      const b = patternBytes(size, 200 + attempt);
      await waitFor(() => Date.now() % 1000 < 100, 1500, 5);
      await putTimed(key, a);
      const first = await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      // Bounded wait in case the name only shows once a cached listing expires (then the round crosses a second).
      const seen = await waitFor(() => readFile(path).catch(() => undefined), 3000, 20);
      assert.ok(seen, `${key} is visible through the mount`);
      assertSameBytes(seen, a, `${key}, first version, read through the mount`);
      await putTimed(key, b);
      const second = await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      assert.notEqual(second.ETag, first.ETag, 'the ETag changed');
      if (second.LastModified!.getTime() !== first.LastModified!.getTime()) continue; // crossed a second: try again
      await sleep(1500);
      const getBytes = await settledGetBytes();
      const reread = await readFile(path);
      const fetched = (await settledGetBytes()) - getBytes;
      const stale = reread.equals(a) ? ' — the old version, whole' : '';
      assertSameBytes(reread, b, `${key} after the TTL (same size and LastModified, new ETag; ${fetched} bytes fetched from S3 for this read${stale})`);
      return;
    }
    t.skip('could not get two puts into one second in 5 tries (machine too busy)');
  });
});

describe('page cache', () => {
  test('a second full read of an unchanged file, after close and reopen, makes no new S3 GET bytes', async () => {
    const path = join(mount.mountpoint, 'cached.bin');
    const expected = patternBytes(8 * MiB + 3, 3);
    const initial = await settledGetBytes();
    assertSameBytes(await readFile(path), expected, 'first read');
    const afterFirst = await settledGetBytes();
    assert.ok(afterFirst - initial >= expected.length, `the first read fetched the file (${afterFirst - initial} bytes)`);

    assertSameBytes(await readFile(path), expected, 'second read');
    assert.equal(await settledGetBytes(), afterFirst, 'no GET bytes for the second read (page cache kept across opens)');

    // Past the metadata TTL the attributes are fetched again; unchanged, so the pages stay.
    await sleep(1500);
    assertSameBytes(await readFile(path), expected, 'third read, after the TTL');
    assert.equal(await settledGetBytes(), afterFirst, 'no GET bytes after the TTL either: the object did not change');
  });
});
