// `cachalot warmup`, `pin`, `unpin`, `evict` against one mount (--mount),
// real s3rver and FUSE: a warm-up loads each block once (S3 GET bytes of the
// mount within 1.0-1.1x of the data) and a missing target among the others
// is reported by name with a non-zero exit while the rest load; reads then
// make no GET; --dry-run says what is cached; a pinned object survives
// scans that evict an unpinned one of the same age; pins past the disk
// cache are refused with one line; evict drops a target.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { WarmupReport } from '../../src/warmup/tally';
import { CacheDaemons, type Daemon, dropPageCache, readAllAndCompare, statsOf, tierOf } from '../support/cache-fixture';
import { MiB, patternBytes, putObjects } from '../support/e2e-helpers';
import { assertOneLineError, runCli, type CliResult } from '../support/mount-fixture';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';

const BUCKET = 'warm';
const DATA = new Map<string, Buffer>([
  ['data/a.bin', patternBytes(3 * MiB + 100, 1)],
  ['data/b.bin', patternBytes(2 * MiB, 2)],
  ['data/sub/c.bin', patternBytes(700 * 1024, 3)],
]);
const PINNED = new Map([['keep/pinned.bin', patternBytes(3 * MiB, 4)]]);
const CONTROL = new Map([['keep/control.bin', patternBytes(3 * MiB, 5)]]);
// Read three times over: more often asked for than the warmed objects, so TinyLFU lets it push them out.
const SCAN = new Map(Array.from({ length: 3 }, (_, i) => [`scan/s-${i}.bin`, patternBytes(3 * MiB, 10 + i)] as [string, Buffer]));
const BIG = new Map([['big/too-big.bin', patternBytes(9 * MiB, 20)]]);
const size = (objects: Map<string, Buffer>) => [...objects.values()].reduce((sum, b) => sum + b.length, 0);

let s3: S3Fixture;
let work: string;
let daemons: CacheDaemons;
let mount: Daemon;

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  await putObjects(s3, BUCKET, [...DATA, ...PINNED, ...CONTROL, ...SCAN, ...BIG]);
  work = mkdtempSync(join(tmpdir(), 'cachalot-warmup-'));
  daemons = new CacheDaemons(s3.env, `s3://${BUCKET}`);
  mkdirSync(join(work, 'mnt'));
  // No RAM tier: what is cached is what the disk tier holds, 8 blocks of 1 MiB.
  mount = await daemons.mount(join(work, 'mnt'), join(work, 'cache'), ['--ram-cache', '0', '--disk-cache', '8MiB', '--block-size', '1MiB', '--memory-limit', '16MiB', '--readahead-max', '2MiB']);
});

after(async () => {
  await daemons?.cleanup();
  await s3?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function cache(command: string, args: string[]): Promise<CliResult> {
  return runCli([command, '--mount', mount.mountpoint, '--json', ...args], s3.env);
}

function reportOf(result: CliResult): WarmupReport {
  return JSON.parse(result.stdout) as WarmupReport;
}

async function s3GetBytes(): Promise<number> {
  return (await statsOf(mount.mountpoint, s3.env)).s3.getBytes;
}

describe('warm-up and cache operations on one mount', { timeout: 120_000 }, () => {
  test('warmup of a prefix, a path under the mount and a missing object: each block from S3 once, the missing one reported, exit 1; reads then make no GET', async (t) => {
    const before = await s3GetBytes();
    const result = await cache('warmup', [`s3://${BUCKET}/data/a.bin`, `s3://${BUCKET}/missing.bin`, join(mount.mountpoint, 'data/sub'), `s3://${BUCKET}/data/b.bin`]);
    assert.equal(result.code, 1, `exit 1 with a failed target: ${result.stderr}`);
    const report = reportOf(result);
    assert.deepEqual(Object.keys(report).sort(), ['blocksLoaded', 'blocksSkipped', 'bytes', 'bytesLoaded', 'bytesSkipped', 'dryRun', 'failed', 'interrupted', 'objects', 'seconds']);
    assert.equal(report.objects, 3);
    assert.equal(report.bytes, size(DATA));
    assert.equal(report.blocksLoaded, 4 + 2 + 1);
    assert.deepEqual(report.failed.map((f) => [f.name, f.code]), [[`s3://${BUCKET}/missing.bin`, 'NotFound']]);
    assert.match(result.stderr, /failed: s3:\/\/warm\/missing\.bin: no such object or prefix/);
    const sent = (await s3GetBytes()) - before;
    t.diagnostic(`S3 GET bytes ${sent} for ${size(DATA)} bytes of data`);
    assert.ok(sent >= size(DATA) && sent <= 1.1 * size(DATA), `S3 GET bytes ${sent} for ${size(DATA)}`);

    const getsBefore = (await statsOf(mount.mountpoint, s3.env)).s3.getRequests;
    await readAllAndCompare(mount.mountpoint, DATA, 'after warm-up');
    assert.equal((await statsOf(mount.mountpoint, s3.env)).s3.getRequests, getsBefore, 'no GET: every block was cached');

    const again = reportOf(await cache('warmup', [`s3://${BUCKET}/data/`]));
    assert.deepEqual([again.blocksLoaded, again.blocksSkipped, again.objects], [0, 7, 3], 'a second warm-up skips every block');
    const dry = reportOf(await cache('warmup', ['--dry-run', `s3://${BUCKET}/data`]));
    assert.deepEqual([dry.dryRun, dry.blocksLoaded, dry.bytesSkipped], [true, 0, size(DATA)]);
  });

  test('a pinned object survives scans that evict an unpinned one warmed at the same time; pins past the disk cache are refused', async (t) => {
    const cannotDrop = dropPageCache();
    if (cannotDrop) return t.skip(cannotDrop);
    await cache('evict', [`s3://${BUCKET}/data/`]);
    const pinned = await cache('pin', [`s3://${BUCKET}/keep/pinned.bin`]);
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.equal(reportOf(pinned).objects, 1);
    assert.equal(tierOf(await statsOf(mount.mountpoint, s3.env), 'disk').pinnedBytes, 3 * MiB, 'stats show the pinned bytes');
    assert.equal((await cache('warmup', [`s3://${BUCKET}/keep/control.bin`])).code, 0);
    for (let pass = 0; pass < 3; pass++) {
      assert.equal(dropPageCache(), undefined);
      await readAllAndCompare(mount.mountpoint, SCAN, `scan ${pass}`);
    }
    const control = reportOf(await cache('warmup', ['--dry-run', `s3://${BUCKET}/keep/control.bin`]));
    assert.ok(control.blocksLoaded > 0, `the unpinned object was evicted by the scans: ${JSON.stringify(control)}`);
    const kept = reportOf(await cache('warmup', ['--dry-run', `s3://${BUCKET}/keep/pinned.bin`]));
    assert.deepEqual([kept.blocksLoaded, kept.blocksSkipped], [0, 3], 'the pinned object is whole');

    assertOneLineError(await cache('pin', [`s3://${BUCKET}/big/too-big.bin`]), /pinning 9\.0 MiB more on .* would pass its disk cache of 8\.0 MiB \(3\.0 MiB pinned already\)/, 1);
    assert.equal(tierOf(await statsOf(mount.mountpoint, s3.env), 'disk').pinnedBytes, 3 * MiB, 'a refused pin pins nothing');

    assert.equal((await cache('unpin', [`s3://${BUCKET}/keep/`])).code, 0);
    assert.equal(tierOf(await statsOf(mount.mountpoint, s3.env), 'disk').pinnedBytes, 0);
    assert.equal((await cache('evict', [`s3://${BUCKET}/keep/pinned.bin`])).code, 0);
    const gone = reportOf(await cache('warmup', ['--dry-run', `s3://${BUCKET}/keep/pinned.bin`]));
    assert.deepEqual([gone.blocksLoaded, gone.blocksSkipped], [3, 0], 'evicted');
  });

  test('usage errors: no target, no --mount nor --meta, a bad URI: one line, exit 2', async () => {
    assertOneLineError(await runCli(['warmup', '--mount', mount.mountpoint], s3.env), /no targets/, 2);
    assertOneLineError(await runCli(['warmup', `s3://${BUCKET}/data/`], s3.env), /one of --mount MOUNTPOINT .* or --meta/, 2);
    assertOneLineError(await runCli(['warmup', '--mount', mount.mountpoint, 's3://NO_SUCH/x'], s3.env), /invalid target/, 2);
  });
});
