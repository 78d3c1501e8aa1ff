// FUSE passthrough of files cached whole on disk: the kernel reads them from
// the disk tier's object files itself, without a request to the daemon, and a
// reader never gets a byte of another version than the one it opened. Each
// test compares the bytes read through the mount with the bytes in S3, and
// counts what reached the daemon (`cachalot stats`: reads.bytes, and
// passthrough.opens).
//
// Covered: warm opens go passthrough and read right; --no-passthrough serves
// the same bytes through the daemon; a block corrupted on disk while the
// daemon was down is checked out before any passthrough open; `cachalot
// evict`, an object replaced in S3, and pins while a passthrough reader holds
// the file; a warm-up makes the first open passthrough.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { MiB, assertSameBytes, hash32, mountTable, patternBytes, putObjects, sleep, waitFor } from '../support/e2e-helpers';
import { runCli } from '../support/mount-fixture';
import { CacheDaemons, Daemon, StatsJson, dropPageCache, objectFiles, placeUnder, statsOf, tierOf } from '../support/cache-fixture';

const BUCKET = 'passthrough';
const BLOCK = MiB;
const ARGS = ['--block-size', '1MiB', '--metadata-ttl', '1s'];

function object(key: string, size: number): [string, Buffer] {
  return [key, patternBytes(size, hash32(key))];
}

const SHARD = object('train/shard-0.tar', 6 * MiB + 4097);
const SMALL = object('train/small.bin', 100 * 1024 + 1);
const VICTIM = object('corrupt/victim.bin', 5 * MiB + 123);
const EVICTED = object('evict/held.bin', 4 * MiB + 1);
const REPLACED = object('replace/model.bin', 3 * MiB + 11);
const PINNED = object('pin/pinned.bin', 2 * MiB);
const WARMED = object('warm/warmed.bin', 3 * MiB + 5);
const ALL = [SHARD, SMALL, VICTIM, EVICTED, REPLACED, PINNED, WARMED];

let s3: S3Fixture;
let work: string;
let daemons: CacheDaemons;
let cannotDrop: string | undefined;

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  await putObjects(s3, BUCKET, ALL);
  work = mkdtempSync(join(tmpdir(), 'cachalot-passthrough-'));
  daemons = new CacheDaemons(s3.env, `s3://${BUCKET}`);
  cannotDrop = dropPageCache();
});

after(async () => {
  await daemons?.cleanup();
  await s3?.stop();
  if (work && !mountTable().some((m) => m.target.startsWith(work))) rmSync(work, { recursive: true, force: true });
});

const place = (name: string) => placeUnder(work, name);

/** Reads [key, bytes] through the mount and compares; returns what reached the daemon and how many opens went passthrough meanwhile. */
async function readThrough(mp: string, [key, expected]: [string, Buffer], what: string): Promise<{ daemonBytes: number; passthroughOpens: number }> {
  const before = await statsOf(mp, s3.env);
  assertSameBytes(await readFile(join(mp, key)), expected, `${what}: ${key}`);
  const after = await statsOf(mp, s3.env);
  return { daemonBytes: after.reads.bytes - before.reads.bytes, passthroughOpens: after.passthrough.opens - before.passthrough.opens };
}

/** Waits until the disk tier holds `blocks` blocks (its writes run behind the reads). */
async function diskHolds(mp: string, blocks: number): Promise<StatsJson> {
  let last: StatsJson | undefined;
  const held = await waitFor(async () => {
    last = await statsOf(mp, s3.env);
    return tierOf(last, 'disk').blocks >= blocks;
  }, 15_000, 100);
  assert.ok(held, `the disk tier holds ${blocks} blocks: ${JSON.stringify(last && tierOf(last, 'disk'))}`);
  return last!;
}

const blocksOf = (bytes: Buffer) => Math.ceil(bytes.length / BLOCK);

describe('FUSE passthrough', () => {
  let daemon: Daemon;
  let mp: string;

  before(async () => {
    const place1 = place('main');
    mp = place1.mp;
    daemon = await daemons.mount(mp, place1.cacheDir, ARGS);
  });

  test('a file cached whole is read by the kernel itself, byte-identical; a cold one through the daemon', async (t) => {
    const stats = await statsOf(mp, s3.env);
    assert.deepEqual(stats.passthrough, { enabled: true, reason: '', opens: 0 }, 'passthrough is on for this kernel');
    const cold = await readThrough(mp, SHARD, 'cold read');
    assert.equal(cold.passthroughOpens, 0, 'a file not cached is not opened passthrough');
    assert.ok(cold.daemonBytes >= SHARD[1].length, 'the cold read went through the daemon');
    await diskHolds(mp, blocksOf(SHARD[1]));

    if (cannotDrop) t.diagnostic(cannotDrop);
    else dropPageCache();
    const warm = await readThrough(mp, SHARD, 'warm read');
    assert.equal(warm.passthroughOpens, 1, 'the warm open went passthrough');
    assert.equal(warm.daemonBytes, 0, 'no byte of the warm read went through the daemon');

    // A small file (one short block) too, and a second reader of the same file at once.
    await readThrough(mp, SMALL, 'cold read');
    await diskHolds(mp, blocksOf(SHARD[1]) + 1);
    const [a, b] = await Promise.all([readThrough(mp, SMALL, 'warm read 1'), readThrough(mp, SHARD, 'warm read 2')]);
    assert.equal(a.daemonBytes + b.daemonBytes, 0);
  });

  test('`cachalot evict` of a file a passthrough reader holds: the reader reads on, every byte of its version; the next open reads through the daemon', async () => {
    const [key, expected] = EVICTED;
    await readThrough(mp, EVICTED, 'cold read');
    await diskHolds(mp, blocksOf(SHARD[1]) + 1 + blocksOf(expected));
    const handle = await open(join(mp, key));
    try {
      const first = Buffer.alloc(BLOCK);
      await handle.read(first, 0, BLOCK, 0);
      assertSameBytes(first, expected.subarray(0, BLOCK), 'first block before evict');
      const evicted = await runCli(['evict', `s3://${BUCKET}/${key}`, '--mount', mp, '--json'], s3.env);
      assert.equal(evicted.code, 0, `cachalot evict: ${evicted.stderr}`);
      const rest = Buffer.alloc(expected.length - BLOCK);
      const { bytesRead } = await handle.read(rest, 0, rest.length, BLOCK);
      assert.equal(bytesRead, rest.length);
      assertSameBytes(rest, expected.subarray(BLOCK), 'the rest, read after evict');
    } finally {
      await handle.close();
    }
    const again = await readThrough(mp, EVICTED, 'read after evict');
    assert.equal(again.passthroughOpens, 0, 'evicted: not passthrough');
    assert.ok(again.daemonBytes >= expected.length);
  });

  test('an object replaced in S3 while a passthrough reader holds it: that reader keeps its version, a new open gets the new one', async () => {
    const [key, oldBytes] = REPLACED;
    const newBytes = patternBytes(oldBytes.length + 4096 * 3 + 5, hash32('new version'));
    await readThrough(mp, REPLACED, 'cold read');
    await waitFor(async () => (await readThrough(mp, REPLACED, 'warm read')).passthroughOpens === 1, 15_000, 200);
    const handle = await open(join(mp, key));
    try {
      const head = Buffer.alloc(4096);
      await handle.read(head, 0, head.length, 0);
      assertSameBytes(head, oldBytes.subarray(0, 4096), 'old version, first page');
      await s3.put(BUCKET, key, newBytes);
      await sleep(1500); // past --metadata-ttl
      // A new open sees the new version (ESTALE inside the kernel, then a new inode).
      assertSameBytes(await readFile(join(mp, key)), newBytes, 'a new open, after the replacement');
      const rest = Buffer.alloc(oldBytes.length - 4096);
      const { bytesRead } = await handle.read(rest, 0, rest.length, 4096);
      assert.equal(bytesRead, rest.length, 'the old reader reads its whole version');
      assertSameBytes(rest, oldBytes.subarray(4096), 'old version, the rest');
    } finally {
      await handle.close();
    }
    // Once the new version is cached whole, it goes passthrough too.
    const warm = await waitFor(async () => (await readThrough(mp, [key, newBytes], 'new version, warm')).passthroughOpens === 1, 15_000, 200);
    assert.ok(warm, 'the new version is opened passthrough once cached');
  });

  test('pins hold across passthrough opens; a warm-up makes the first open passthrough', async () => {
    const pin = await runCli(['warmup', `s3://${BUCKET}/${PINNED[0]}`, `s3://${BUCKET}/${WARMED[0]}`, '--mount', mp, '--pin', '--json'], s3.env);
    assert.equal(pin.code, 0, `cachalot warmup --pin: ${pin.stderr}`);
    const pinnedBefore = tierOf(await statsOf(mp, s3.env), 'disk').pinnedBytes;
    assert.equal(pinnedBefore, PINNED[1].length + WARMED[1].length);
    for (const entry of [PINNED, WARMED]) {
      const read = await readThrough(mp, entry, 'after warm-up');
      assert.equal(read.passthroughOpens, 1, `${entry[0]}: the first open after a warm-up is passthrough`);
      assert.equal(read.daemonBytes, 0);
    }
    assert.equal(tierOf(await statsOf(mp, s3.env), 'disk').pinnedBytes, pinnedBefore, 'pins unchanged by passthrough opens');
    const unpin = await runCli(['unpin', `s3://${BUCKET}/${PINNED[0]}`, '--mount', mp, '--json'], s3.env);
    assert.equal(unpin.code, 0, unpin.stderr);
    assert.equal(tierOf(await statsOf(mp, s3.env), 'disk').pinnedBytes, WARMED[1].length);
  });

  test('a block changed on disk while the daemon was down is never read: the first open checks every block, and fetches the bad one again', async () => {
    const [key, expected] = VICTIM;
    await readThrough(mp, VICTIM, 'cold read');
    const cacheDir = daemon.cacheDir;
    await daemons.stop(daemon);
    const files = objectFiles(cacheDir).filter((f) => f.size === expected.length);
    assert.equal(files.length, 1, 'one file as long as the object');
    const path = join(cacheDir, files[0].path);
    const bytes = readFileSync(path);
    assertSameBytes(bytes, expected, 'the object file is the object');
    bytes[2 * BLOCK + 100] ^= 0xff;
    writeFileSync(path, bytes);

    daemon = await daemons.mount(mp, cacheDir, ARGS);
    const first = await statsOf(mp, s3.env);
    const read = await readThrough(mp, VICTIM, 'read with one corrupt block on disk');
    const after = await statsOf(mp, s3.env);
    assert.equal(read.passthroughOpens, 0, 'not handed to the kernel');
    assert.equal(after.s3.getBytes - first.s3.getBytes, BLOCK, 'the bad block alone came from S3 again');
    assert.equal(tierOf(after, 'disk').errors, 1);
    await waitFor(async () => (await readThrough(mp, VICTIM, 'after repair')).passthroughOpens === 1, 15_000, 200);
    assertSameBytes(readFileSync(path), expected, 'the file was repaired');
    void key;
  });
});

describe('--no-passthrough', () => {
  test('every read goes through the daemon, with the same bytes; stats say why it is off', async () => {
    const { mp, cacheDir } = place('off');
    await daemons.mount(mp, cacheDir, [...ARGS, '--no-passthrough']);
    const stats = await statsOf(mp, s3.env);
    assert.equal(stats.passthrough.enabled, false);
    assert.match(stats.passthrough.reason, /--no-passthrough/);
    await readThrough(mp, SHARD, 'cold read');
    await diskHolds(mp, blocksOf(SHARD[1]));
    dropPageCache();
    const warm = await readThrough(mp, SHARD, 'warm read');
    assert.equal(warm.passthroughOpens, 0);
    assert.ok(warm.daemonBytes >= SHARD[1].length, 'the warm read went through the daemon');
  });

  test('without a disk tier there is nothing to pass through', async () => {
    const { mp, cacheDir } = place('nodisk');
    await daemons.mount(mp, cacheDir, [...ARGS, '--disk-cache', '0']);
    const stats = await statsOf(mp, s3.env);
    assert.equal(stats.passthrough.enabled, false);
    assert.match(stats.passthrough.reason, /no disk tier/);
    await readThrough(mp, SMALL, 'read');
  });
});
