// The disk tier when its disk is too small or full, and a cache dir that a
// daemon already owns.
//
// The small disk is a 16 MiB tmpfs mounted by this file (skipped when mounting
// tmpfs is not permitted) and always unmounted in after(). Every daemon is
// ended by its PID and every FUSE mount undone in after(), also on failure.
//
// A full cache fs once hung a daemon that logged to it (the default log
// place), could kill one that logged elsewhere (an LMDB commit failing), and
// made a new mount on it fail: the tests below keep those fixed. Reads are
// bounded in time, so a hung daemon fails its test rather than the run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { forceUnmount, waitForExit } from '../support/mount-fixture';
import { MiB, hash32, isAlive, mountAt, mountTable, patternBytes, processesMentioning, putObjects, sleep, withTimeout } from '../support/e2e-helpers';
import { CacheDaemons, Daemon, StatsJson, dropPageCache, logTail, readAllAndCompare, statsOf, tierOf } from '../support/cache-fixture';

const exec = promisify(execFile);

const BUCKET = 'cft';
const TMPFS_SIZE = 16 * MiB;
// The disk tier as large as the tmpfs (a larger disk_cache is refused at start): the
// dataset and the filler below fill the disk before the tier is full.
// Reads go through the daemon (no passthrough): its disk tier under a full disk is what is tested.
const ARGS = ['--block-size', '1MiB', '--ram-cache', '0', '--disk-cache', '16MiB', '--no-passthrough'];

// 48 MiB: three times the tmpfs.
const BIG = new Map<string, Buffer>();
for (let i = 0; i < 12; i++) {
  const key = `full/f-${String(i).padStart(2, '0')}.bin`;
  BIG.set(key, patternBytes(4 * MiB, hash32(key)));
}
const SMALL_KEY = 'busy/a.txt';

let s3: S3Fixture;
let work: string;
let tmpfsDir: string;
let tmpfsMounted = false;
let noTmpfs: string | undefined;
let daemons: CacheDaemons;

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  await putObjects(s3, BUCKET, [...BIG, [SMALL_KEY, Buffer.from('alpha\n')]]);
  work = mkdtempSync(join(tmpdir(), 'cachalot-cache-faults-'));
  daemons = new CacheDaemons(s3.env, `s3://${BUCKET}`);
  tmpfsDir = join(work, 'tmpfs');
  mkdirSync(tmpfsDir);
  try {
    await exec('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700`, 'tmpfs', tmpfsDir]);
    tmpfsMounted = true;
  } catch (err) {
    noTmpfs = `cannot mount a tmpfs (${String((err as { stderr?: string }).stderr ?? err).trim()})`;
  }
});

after(async () => {
  await daemons?.cleanup();
  if (tmpfsMounted && mountAt(tmpfsDir)) {
    await exec('umount', [tmpfsDir]).catch(async () => {
      await sleep(500);
      await exec('umount', ['-l', tmpfsDir]);
    });
  }
  await s3?.stop();
  if (work && !mountTable().some((m) => m.target.startsWith(work))) rmSync(work, { recursive: true, force: true });
});

/** Writes to path until the filesystem answers ENOSPC, in ever smaller pieces; returns the bytes written. */
function fillUp(path: string): number {
  const fd = openSync(path, 'a');
  let written = 0;
  try {
    for (const piece of [MiB, 4096, 1]) {
      const chunk = Buffer.alloc(piece, 0x5a);
      for (;;) {
        try {
          const n = writeSync(fd, chunk);
          written += n;
          if (n < piece) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/** 48 MiB from a local s3rver takes a second or two (10 s allows a busy machine); a hung daemon is killed (by PID) so that the reads return. */
const READ_BUDGET_MS = 10_000;

async function readAllWithin(mp: string, objects: Map<string, Buffer>, what: string, daemon: Daemon, ms: number, logFile?: string): Promise<void> {
  const reading = readAllAndCompare(mp, objects, what);
  try {
    await withTimeout(reading, ms, what);
  } catch (err) {
    if (!/no result within/.test(String(err))) {
      let log = '';
      try {
        if (logFile) log = `; its log ends:\n${readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-6).join('\n')}`;
      } catch {
        // no log
      }
      throw new Error(`${what}: ${String(err)} (daemon ${daemon.pid} ${isAlive(daemon.pid) ? 'alive' : 'gone'})${log}`, { cause: err });
    }
    const answers = isAlive(daemon.pid) ? 'alive but not answering' : 'gone';
    if (isAlive(daemon.pid)) process.kill(daemon.pid, 'SIGKILL');
    await reading.catch(() => undefined);
    // Gone for good (reaped), its mount undone: the next daemon may take the cache dir.
    await waitForExit(daemon.pid, 10_000);
    await forceUnmount(mp);
    throw new Error(`${what}: reads hung for ${ms / 1000} s (daemon ${daemon.pid} ${answers}; killed)`);
  }
}

const freeBytes = (dir: string) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

describe('a cache dir on a small, full filesystem', () => {
  test(
    'a dataset 3x the cache filesystem reads right with the log in its default place (CACHE_DIR/cachalot.log)',
    async (t) => {
      if (noTmpfs) return t.skip(noTmpfs);
      const mp = join(work, 'default-log-mnt');
      mkdirSync(mp);
      const daemon = await daemons.mount(mp, tmpfsDir, ARGS);
      try {
        await readAllWithin(mp, BIG, 'read through a 16 MiB cache fs', daemon, READ_BUDGET_MS);
      } finally {
        t.diagnostic(`${freeBytes(tmpfsDir)} bytes free on the cache fs; log: ${logTail(tmpfsDir, 3) || '(empty)'}`);
      }
      await daemons.stop(daemon);
    },
  );

  // The next two tests share one daemon: its log outside the tmpfs, so that they test the disk tier.
  let small: Daemon | undefined;
  let smallStats: StatsJson | undefined;
  const smallLog = () => join(work, 'small.log');

  test('with the log elsewhere: a dataset 3x the cache filesystem reads right', async (t) => {
    if (noTmpfs) return t.skip(noTmpfs);
    const mp = join(work, 'small-mnt');
    mkdirSync(mp);
    small = await daemons.mount(mp, tmpfsDir, [...ARGS, '--log-file', smallLog()]);
    await readAllWithin(mp, BIG, 'read through a 16 MiB cache fs', small, READ_BUDGET_MS, smallLog());
    smallStats = await statsOf(mp, s3.env);
    const disk = tierOf(smallStats, 'disk');
    t.diagnostic(`after 48 MiB through a 16 MiB fs: disk tier ${JSON.stringify(disk)}; ${freeBytes(tmpfsDir)} bytes free`);
    assert.ok(disk.usedBytes <= TMPFS_SIZE, `the tier holds no more than the filesystem (${disk.usedBytes})`);
    assert.ok(disk.evictions > 0, 'the tier evicted to make room');
  });

  test(
    'with the log elsewhere: a re-read through the same mount reads right with the cache filesystem filled to 100%',
    async (t) => {
      if (noTmpfs) return t.skip(noTmpfs);
      const cannotDrop = dropPageCache();
      if (cannotDrop) return t.skip(cannotDrop);
      assert.ok(small && smallStats, 'the mount of the previous test');
      const daemon = small;
      try {
        const filled = fillUp(join(tmpfsDir, 'filler'));
        assert.equal(freeBytes(tmpfsDir), 0, 'the filesystem is full');
        assert.equal(dropPageCache(), undefined);
        await readAllWithin(daemon.mountpoint, BIG, 're-read with the cache fs full', daemon, READ_BUDGET_MS, smallLog());
        const second = await statsOf(daemon.mountpoint, s3.env);
        t.diagnostic(
          `filled ${filled} bytes (0 free); after the re-read: disk tier ${JSON.stringify(tierOf(second, 'disk'))}; ` +
            `${second.s3.getRequests - smallStats.s3.getRequests} GETs; ${freeBytes(tmpfsDir)} bytes free`,
        );
        assert.ok(second.reads.bytes - smallStats.reads.bytes >= 48 * MiB, 'the re-read reached the daemon');
      } finally {
        small = undefined;
        // Gone for good, its mount undone, whatever happened: the next test takes the cache dir.
        if (isAlive(daemon.pid)) await daemons.stop(daemon);
        await waitForExit(daemon.pid, 10_000);
        await forceUnmount(daemon.mountpoint);
      }
    },
  );

  test(
    'with the log elsewhere: a fresh mount on the full cache dir mounts and serves right bytes',
    async (t) => {
      if (noTmpfs) return t.skip(noTmpfs);
      const mp = join(work, 'full-mnt');
      mkdirSync(mp);
      // Whatever the last daemon left, the filesystem is full again.
      fillUp(join(tmpfsDir, 'filler'));
      assert.equal(freeBytes(tmpfsDir), 0, 'the filesystem is full');

      const result = await daemons.tryMount(mp, tmpfsDir, [...ARGS, '--log-file', join(work, 'full.log')]);
      assert.equal(result.code, 0, `mount on a full cache dir: exit ${result.code}: ${result.stderr.trim()}`);
      const daemon = { mountpoint: mp, cacheDir: tmpfsDir, pid: result.pid! };
      await readAllWithin(mp, BIG, 'read through a fresh mount on a full cache dir', daemon, READ_BUDGET_MS);
      // The disk tier cannot even take its lock on a full disk: the mount
      // serves from RAM and S3 without it, and the log says why.
      const stats = await statsOf(mp, s3.env);
      assert.deepEqual(stats.tiers.map((tier) => tier.tier), [], 'no disk tier on a full cache dir (and --ram-cache 0)');
      assert.match(await readFile(join(work, 'full.log'), 'utf8'), /disk cache unavailable/);
      t.diagnostic(`fresh mount on the full fs: ${stats.s3.getRequests} GETs`);
      await daemons.stop(daemon);
    },
  );
});

describe('one daemon per cache dir', () => {
  test('a second mount on the same cache dir fails with exit 1 and one line naming it; nothing is left mounted', async () => {
    const cacheDir = join(work, 'shared-cache');
    const mp1 = join(work, 'first-mnt');
    const mp2 = join(work, 'second-mnt');
    mkdirSync(mp1);
    mkdirSync(mp2);
    const first = await daemons.mount(mp1, cacheDir, ['--block-size', '1MiB']);

    const second = await daemons.tryMount(mp2, cacheDir, ['--block-size', '1MiB']);
    assert.equal(second.code, 1, `exit code 1 (stdout ${JSON.stringify(second.stdout)})`);
    const lines = second.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line on stderr: ${JSON.stringify(second.stderr)}`);
    assert.ok(lines[0].includes(cacheDir), `the line names the cache dir ${cacheDir}: ${lines[0]}`);
    assert.equal(second.stdout, '', 'nothing on stdout');
    assert.equal(mountAt(mp2), undefined, 'no mount at the second mountpoint');
    // The second daemon is gone, not lingering.
    let lingering = processesMentioning(mp2);
    for (let i = 0; i < 40 && lingering.length > 0; i++) {
      await sleep(50);
      lingering = processesMentioning(mp2);
    }
    assert.deepEqual(lingering, [], 'no process serves the second mountpoint');

    // The first daemon is untouched.
    assert.equal(await readFile(join(mp1, SMALL_KEY), 'utf8'), 'alpha\n');
    await daemons.stop(first);
  });
});
