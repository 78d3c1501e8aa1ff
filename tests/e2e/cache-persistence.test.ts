// The block cache's disk tier across daemons: a cached dataset is re-read
// without S3 after the page cache is dropped and after a restart on the same
// --cache-dir; a corrupt block is never served (its block alone is fetched
// again); a daemon killed with SIGKILL while it writes blocks leaves a cache
// dir from which the next daemon serves only right bytes.
//
// The last two tests keep two bugs fixed: block keys of 64+ characters broke
// the disk index, and a stale mount cached by the kernel was not replaced.
//
// S3 traffic is read from `cachalot stats MOUNTPOINT --json` (s3.getRequests,
// s3.getBytes: counts since that daemon started). Every daemon is ended by
// its PID and every mount undone in after(), also when a test failed.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { KiB, MiB, assertSameBytes, hash32, mountTable, patternBytes, putObjects, waitFor } from '../support/e2e-helpers';
import { waitForExit } from '../support/mount-fixture';
import {
  CacheDaemons,
  StatsJson,
  blockCount,
  cachedBytesOnDisk,
  dropPageCache,
  objectFiles,
  placeUnder,
  readAllAndCompare,
  statsOf,
  tierOf,
} from '../support/cache-fixture';

const BUCKET = 'cpt';
const LONG_BUCKET = 'cache-persistence-long-names';
const LONG_KEY = 'datasets/imagenet/train/shard-000000.tar';
const LONG_OBJECT = patternBytes(2 * MiB + 17, hash32(LONG_KEY));
const BLOCK = MiB;
const ARGS = ['--block-size', '1MiB'];
// Reads that always reach the daemon, whose tiers the re-read tests count (files cached whole go to the kernel otherwise: passthrough.test.ts).
const DAEMON_ARGS = [...ARGS, '--no-passthrough'];

function dataset(prefix: string, sizes: number[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  sizes.forEach((size, i) => {
    const key = `${prefix}/file-${i}.bin`;
    out.set(key, patternBytes(size, hash32(key)));
  });
  return out;
}

// Several multi-block files and some small ones.
const REREAD = dataset('reread', [5 * MiB + 3, 3 * MiB, 8 * MiB - 7, 2 * MiB + 1, 100, 4 * KiB, 50 * KiB + 1, 1]);
const REREAD_BLOCKS = blockCount(REREAD, BLOCK);
const VICTIM_KEY = 'corrupt/victim.bin';
const VICTIM = patternBytes(6 * MiB + 123, hash32(VICTIM_KEY));
// 80 blocks of 1 MiB.
const CRASH = dataset('crash', [20 * MiB, 20 * MiB, 20 * MiB, 20 * MiB]);
const CRASH_BLOCKS = blockCount(CRASH, BLOCK);

let s3: S3Fixture;
let work: string;
let daemons: CacheDaemons;
let longDaemons: CacheDaemons;
let cannotDrop: string | undefined;

before(async () => {
  s3 = await startS3Fixture([BUCKET, LONG_BUCKET]);
  await putObjects(s3, BUCKET, [...REREAD, [VICTIM_KEY, VICTIM], ...CRASH]);
  await putObjects(s3, LONG_BUCKET, [[LONG_KEY, LONG_OBJECT]]);
  work = mkdtempSync(join(tmpdir(), 'cachalot-cache-persist-'));
  daemons = new CacheDaemons(s3.env, `s3://${BUCKET}`);
  longDaemons = new CacheDaemons(s3.env, `s3://${LONG_BUCKET}`);
  cannotDrop = dropPageCache();
});

after(async () => {
  await daemons?.cleanup();
  await longDaemons?.cleanup();
  await s3?.stop();
  // Never recurse into a mount that is somehow still there.
  if (work && !mountTable().some((m) => m.target.startsWith(work))) rmSync(work, { recursive: true, force: true });
});

const place = (name: string) => placeUnder(work, name);

const total = (objects: Map<string, Buffer>) => [...objects.values()].reduce((sum, b) => sum + b.length, 0);

/** Waits until the disk tier lists `blocks` blocks (its writes run behind the reads); returns the last stats. */
async function diskHolds(mp: string, blocks: number): Promise<StatsJson> {
  let last: StatsJson | undefined;
  await waitFor(async () => {
    last = await statsOf(mp, s3.env);
    return tierOf(last, 'disk').blocks === blocks;
  }, 15_000, 100);
  return last!;
}

/**
 * Waits until the disk tier's writes are done: its block count and the disk
 * space of its files hold still across two looks. Returns the last stats.
 */
async function diskSettled(mp: string, cacheDir: string): Promise<StatsJson> {
  let last: StatsJson | undefined;
  let previous = '';
  const settled = await waitFor(async () => {
    last = await statsOf(mp, s3.env);
    const now = `${tierOf(last, 'disk').blocks} blocks, ${cachedBytesOnDisk(cacheDir)} bytes on disk`;
    const still = now === previous;
    previous = now;
    return still;
  }, 15_000, 200);
  assert.ok(settled, `the disk tier settles: ${previous}`);
  return last!;
}

describe('disk tier persistence', () => {
  test('a cached dataset is re-read with 0 S3 GETs after drop_caches, and again after a restart on the same cache dir', async (t) => {
    if (cannotDrop) return t.skip(cannotDrop);
    const { mp, cacheDir } = place('reread');
    const bytes = total(REREAD);

    const first = await daemons.mount(mp, cacheDir, DAEMON_ARGS);
    await readAllAndCompare(mp, REREAD, 'cold read');
    const cold = await diskHolds(mp, REREAD_BLOCKS);
    assert.ok(cold.s3.getBytes >= bytes, `the cold read fetched every byte (${cold.s3.getBytes} of ${bytes})`);
    assert.equal(tierOf(cold, 'disk').blocks, REREAD_BLOCKS, 'every block was written to the disk tier');

    assert.equal(dropPageCache(), undefined);
    await readAllAndCompare(mp, REREAD, 're-read after drop_caches');
    const warm = await statsOf(mp, s3.env);
    assert.ok(warm.reads.bytes - cold.reads.bytes >= bytes, `the re-read reached the daemon (${warm.reads.bytes - cold.reads.bytes} bytes of ${bytes})`);
    assert.equal(warm.s3.getRequests - cold.s3.getRequests, 0, 'no S3 GET for the re-read');
    // A block read once is not kept in RAM (a disk tier holds it): the first
    // re-read comes from disk and promotes the blocks; the next from RAM.
    assert.ok(tierOf(warm, 'disk').hits - tierOf(cold, 'disk').hits >= REREAD_BLOCKS, 'the disk tier answered every block');
    assert.equal(dropPageCache(), undefined);
    await readAllAndCompare(mp, REREAD, 'second re-read after drop_caches');
    const hot = await statsOf(mp, s3.env);
    assert.equal(hot.s3.getRequests - cold.s3.getRequests, 0, 'no S3 GET for the second re-read');
    assert.ok(tierOf(hot, 'ram').hits - tierOf(warm, 'ram').hits >= REREAD_BLOCKS, 'the RAM tier answered every block');
    await daemons.unmount(first);

    // A new daemon on the same cache dir: its RAM tier is empty, the disk tier holds everything.
    await daemons.mount(mp, cacheDir, DAEMON_ARGS);
    await readAllAndCompare(mp, REREAD, 'read after restart');
    const restarted = await statsOf(mp, s3.env);
    const disk = tierOf(restarted, 'disk');
    t.diagnostic(`after restart: ${restarted.s3.getRequests} GETs; disk tier ${JSON.stringify(disk)}`);
    assert.ok(restarted.reads.bytes >= bytes, 'the reads reached the new daemon');
    assert.equal(restarted.s3.getRequests, 0, 'no S3 GET after a restart on the same cache dir');
    assert.equal(restarted.s3.getBytes, 0);
    assert.ok(disk.hits >= REREAD_BLOCKS, `the disk tier answered every block (${disk.hits} hits for ${REREAD_BLOCKS} blocks)`);
    assert.equal(disk.blocks, REREAD_BLOCKS, 'the disk tier kept every block across the restart');
    assert.equal(disk.errors, 0);
  });

  test('a corrupt block is never served: only that block is fetched again, and the tier counts one error', async (t) => {
    const { mp, cacheDir } = place('corrupt');
    const only = new Map([[VICTIM_KEY, VICTIM]]);
    const blocks = Math.ceil(VICTIM.length / BLOCK);

    const first = await daemons.mount(mp, cacheDir, ARGS);
    await readAllAndCompare(mp, only, 'cold read');
    assert.equal(tierOf(await diskHolds(mp, blocks), 'disk').blocks, blocks, 'every block was written to the disk tier');
    await daemons.stop(first);

    // The object's file holds its blocks at their offsets: flip a byte in the middle of block 3.
    const files = objectFiles(cacheDir);
    assert.deepEqual(files.map((f) => f.size), [VICTIM.length], 'one file, as long as the object');
    const path = join(cacheDir, files[0].path);
    const content = readFileSync(path);
    assert.ok(content.equals(VICTIM), 'the file is the object');
    const at = 3 * BLOCK + BLOCK / 2;
    content[at] ^= 0xff;
    writeFileSync(path, content);
    t.diagnostic(`flipped byte ${at} of ${files[0].path} (block 3)`);

    await daemons.mount(mp, cacheDir, ARGS);
    await readAllAndCompare(mp, only, 'read with a corrupt block');
    const stats = await statsOf(mp, s3.env);
    const disk = tierOf(stats, 'disk');
    t.diagnostic(`after the read: ${stats.s3.getRequests} GETs, ${stats.s3.getBytes} bytes; disk tier ${JSON.stringify(disk)}`);
    assert.equal(stats.s3.getRequests, 1, 'exactly one S3 GET: the corrupt block');
    assert.equal(stats.s3.getBytes, BLOCK, 'the GET brought that block alone');
    assert.equal(disk.errors, 1, "the disk tier's errors count is 1");
    assert.ok(disk.hits >= blocks - 1, `the other ${blocks - 1} blocks came from disk (${disk.hits} hits)`);

    // The block fetched again replaces the bad bytes.
    await diskHolds(mp, blocks);
    const repaired = await waitFor(() => {
      try {
        return readFileSync(path).equals(VICTIM);
      } catch {
        return false;
      }
    }, 10_000);
    assert.ok(repaired, 'the corrupt block was rewritten with the right bytes');
  });

  test('kill -9 while blocks are being written: the next daemon on the cache dir serves right bytes and caches every block', async (t) => {
    if (cannotDrop) return t.skip(cannotDrop);
    const { mp, cacheDir } = place('crash');

    const victim = await daemons.mount(mp, cacheDir, DAEMON_ARGS);
    let settled = 0;
    const reads = [...CRASH].map(([key, expected]) =>
      readFile(join(mp, key)).then(
        (actual) => {
          settled++;
          // A read that finished before the kill must be right too.
          assertSameBytes(actual, expected, `read before the kill: ${key}`);
          return 'complete';
        },
        (err: NodeJS.ErrnoException) => {
          settled++;
          return err.code ?? String(err);
        },
      ),
    );
    // Kill once the daemon has begun writing blocks, while the reads are still going.
    await waitFor(() => cachedBytesOnDisk(cacheDir) >= 6 * BLOCK || settled === reads.length, 30_000, 2);
    process.kill(victim.pid, 'SIGKILL');
    const inFlight = reads.length - settled;
    const bytesAtKill = cachedBytesOnDisk(cacheDir);
    assert.ok(await waitForExit(victim.pid, 10_000), 'the daemon is gone');
    const outcomes = await Promise.all(reads);
    t.diagnostic(`SIGKILL with ${bytesAtKill} bytes written, ${inFlight} of ${reads.length} reads in flight: ${outcomes.join(', ')}`);
    assert.ok(inFlight > 0, 'the daemon was killed while reads were in flight');
    assert.ok(bytesAtKill < CRASH_BLOCKS * BLOCK, 'the daemon was killed before every block was written');

    // The same mountpoint (stale now) and the same cache dir: the mount replaces the stale one.
    const second = await daemons.mount(mp, cacheDir, DAEMON_ARGS);
    assert.equal(mountTable().filter((m) => m.target === mp).length, 1, 'one mount at the mountpoint');
    await readAllAndCompare(mp, CRASH, 'read after kill -9');
    // Once its writes are done, the tier's count and the disk space its files
    // take agree (a sparse file's extent tree takes a little of its own). A
    // read never outruns the disk tier's writes (CachingSource waits for
    // them), so every block is there.
    const onDisk = await diskSettled(mp, cacheDir);
    let disk = tierOf(onDisk, 'disk');
    const bytes = cachedBytesOnDisk(cacheDir);
    t.diagnostic(`second daemon: ${onDisk.s3.getRequests} GETs; disk tier ${JSON.stringify(disk)}; ${bytes} bytes on disk`);
    assert.ok(bytes >= disk.usedBytes && bytes <= disk.usedBytes + BLOCK, `disk tier bytes (${disk.usedBytes}) are the bytes on disk (${bytes})`);
    assert.equal(disk.blocks, CRASH_BLOCKS, 'every block reached the disk tier');
    assert.equal(disk.errors, 0, 'no corrupt block was found');
    const kept = disk.blocks;

    assert.equal(dropPageCache(), undefined);
    const ahead = await statsOf(mp, s3.env);
    await readAllAndCompare(mp, CRASH, 're-read after drop_caches');
    const behind = await statsOf(mp, s3.env);
    assert.ok(behind.reads.bytes - ahead.reads.bytes >= total(CRASH), 'the re-read reached the daemon');
    assert.equal(behind.s3.getRequests - ahead.s3.getRequests, 0, 'no S3 GET for the re-read');
    await daemons.stop(second);

    // A third daemon serves every block the disk tier kept from disk, and fetches only the others.
    await daemons.mount(mp, cacheDir, DAEMON_ARGS);
    const recovered = tierOf(await statsOf(mp, s3.env), 'disk');
    assert.equal(recovered.blocks, kept, 'the new daemon lists every block the last one kept');
    await readAllAndCompare(mp, CRASH, 'read by a third daemon');
    const third = await statsOf(mp, s3.env);
    disk = tierOf(third, 'disk');
    t.diagnostic(`third daemon: ${third.s3.getRequests} GETs; disk tier ${JSON.stringify(disk)}; ${cachedBytesOnDisk(cacheDir)} bytes on disk`);
    // A GET may load several blocks: count bytes (every block here is one whole BLOCK).
    assert.equal(third.s3.getBytes, (CRASH_BLOCKS - kept) * BLOCK, `S3 sent only the ${CRASH_BLOCKS - kept} blocks not on disk`);
    assert.ok(disk.hits >= kept, `every kept block came from disk (${disk.hits} hits)`);
    assert.equal(disk.errors, 0);
  });

  test(
    'a restart on a cache dir whose block keys are 64+ characters long serves from the disk tier',
    async (t) => {
      const { mp, cacheDir } = place('long-keys');
      const only = new Map([[LONG_KEY, LONG_OBJECT]]);
      t.diagnostic(`block key length: ${LONG_BUCKET.length + LONG_KEY.length + 34 + 3 + 1} characters`);
      const first = await longDaemons.mount(mp, cacheDir, ARGS);
      await readAllAndCompare(mp, only, 'cold read');
      await waitFor(async () => tierOf(await statsOf(mp, s3.env), 'disk').blocks === 3, 15_000, 100);
      await longDaemons.stop(first);
      await longDaemons.mount(mp, cacheDir, ARGS);
      await readAllAndCompare(mp, only, 'read after restart');
      const stats = await statsOf(mp, s3.env);
      assert.equal(stats.s3.getRequests, 0, 'no S3 GET after a restart on the same cache dir');
      assert.equal(tierOf(stats, 'disk').blocks, 3);
    },
  );

  test(
    'after kill -9 of a background daemon, mount on the same mountpoint replaces the stale mount',
    async () => {
      const { mp, cacheDir } = place('stale');
      const one = new Map([...REREAD].slice(0, 1));
      const victim = await daemons.mount(mp, cacheDir, ARGS);
      // A reader opens files below the root; nothing lists the root itself.
      await readAllAndCompare(mp, one, 'read before the kill');
      process.kill(victim.pid, 'SIGKILL');
      assert.ok(await waitForExit(victim.pid, 10_000), 'the daemon is gone');
      const again = await daemons.tryMount(mp, cacheDir, ARGS);
      assert.equal(again.code, 0, `mount on the stale mountpoint: ${again.stderr.trim()}`);
      assert.equal(mountTable().filter((m) => m.target === mp).length, 1, 'the stale mount was replaced');
      await readAllAndCompare(mp, one, 'read through the new mount');
    },
  );
});
