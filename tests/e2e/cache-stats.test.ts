// What the cache tiers report, and what they achieve: the share of bytes a
// cache smaller than the dataset serves over cyclic epochs (TinyLFU keeps a
// part of the dataset rather than thrashing as LRU would), `cachalot stats`
// in both forms and for a path no daemon serves, and the Prometheus series of
// the tiers at --metrics.
//
// Every daemon is ended by its PID and every mount undone in after().
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_RUN_BYTES } from '../../src/block/get-runs';
import { planMemory } from '../../src/config/memory-plan';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { runCli } from '../support/mount-fixture';
import { MiB, freePort, hash32, metricsText, mountTable, seriesValue, patternBytes, putObjects, waitFor } from '../support/e2e-helpers';
import { CacheDaemons, Daemon, StatsJson, dropPageCache, readAllAndCompare, statsOf, tierOf } from '../support/cache-fixture';

const BUCKET = 'cst';

// 64 MiB in 16 files of 4 MiB: twice the 32 MiB disk tier of the epoch test.
const EPOCH_DATA = new Map<string, Buffer>();
for (let i = 0; i < 16; i++) {
  const key = `epoch/e-${String(i).padStart(2, '0')}.bin`;
  EPOCH_DATA.set(key, patternBytes(4 * MiB, hash32(key)));
}
const EPOCH_BYTES = 64 * MiB;
const EPOCHS = 5;
const MIN_SHARE = 0.4;

const MISC_KEY = 'misc/x.bin';
const MISC = new Map([[MISC_KEY, patternBytes(3 * MiB + 5, hash32(MISC_KEY))]]);
const MISC_BLOCKS = 4;

let s3: S3Fixture;
let work: string;
let daemons: CacheDaemons;
let shared: Daemon;
let metricsPort: number;

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  await putObjects(s3, BUCKET, [...EPOCH_DATA, ...MISC]);
  work = mkdtempSync(join(tmpdir(), 'cachalot-cache-stats-'));
  daemons = new CacheDaemons(s3.env, `s3://${BUCKET}`);
  // One mount with the default tiers for the stats and metrics tests; its re-reads go through the daemon (no passthrough), whose tiers are counted.
  metricsPort = await freePort();
  mkdirSync(join(work, 'shared-mnt'));
  shared = await daemons.mount(join(work, 'shared-mnt'), join(work, 'shared-cache'), [
    '--block-size',
    '1MiB',
    '--metrics',
    `127.0.0.1:${metricsPort}`,
    '--no-passthrough',
  ]);
  await readAllAndCompare(shared.mountpoint, MISC, 'read through the shared mount');
});

after(async () => {
  await daemons?.cleanup();
  await s3?.stop();
  if (work && !mountTable().some((m) => m.target.startsWith(work))) rmSync(work, { recursive: true, force: true });
});

describe('cyclic epochs over a dataset twice the cache', () => {
  test(`--ram-cache 0 --disk-cache 32MiB: epochs 3-${EPOCHS} each serve >= ${MIN_SHARE * 100}% of the bytes from cache`, async (t) => {
    const cannotDrop = dropPageCache();
    if (cannotDrop) return t.skip(cannotDrop);
    const mp = join(work, 'epoch-mnt');
    mkdirSync(mp);
    // Through the daemon (no passthrough): its disk tier's admission over the epochs is what is measured.
    const daemon = await daemons.mount(mp, join(work, 'epoch-cache'), ['--ram-cache', '0', '--disk-cache', '32MiB', '--block-size', '1MiB', '--no-passthrough']);
    const shares: number[] = [];
    let last = await statsOf(mp, s3.env);
    for (let epoch = 1; epoch <= EPOCHS; epoch++) {
      assert.equal(dropPageCache(), undefined);
      const read = await readAllAndCompare(mp, EPOCH_DATA, `epoch ${epoch}`);
      assert.equal(read, EPOCH_BYTES);
      const now = await statsOf(mp, s3.env);
      const getBytes = now.s3.getBytes - last.s3.getBytes;
      const reached = now.reads.bytes - last.reads.bytes;
      const share = 1 - getBytes / read;
      shares.push(share);
      const disk = tierOf(now, 'disk');
      t.diagnostic(
        `epoch ${epoch}: ${(share * 100).toFixed(1)}% of ${read} bytes from cache ` +
          `(${getBytes} bytes in ${now.s3.getRequests - last.s3.getRequests} S3 GETs; ${reached} bytes reached the daemon; ` +
          `disk tier ${disk.blocks} blocks, ${disk.usedBytes} bytes, ${disk.hits - tierOf(last, 'disk').hits} hits, ` +
          `${disk.evictions - tierOf(last, 'disk').evictions} evictions)`,
      );
      assert.ok(reached >= read, `epoch ${epoch} reached the daemon (${reached} of ${read} bytes): the page cache was dropped`);
      assert.ok(disk.usedBytes <= 32 * MiB, `the disk tier keeps to its 32 MiB (${disk.usedBytes})`);
      last = now;
    }
    t.diagnostic(`shares: ${shares.map((s) => `${(s * 100).toFixed(1)}%`).join(', ')}`);
    assert.ok(shares[0] < 0.01, `epoch 1 is cold (${shares[0]})`);
    for (let epoch = 3; epoch <= EPOCHS; epoch++) {
      const share = shares[epoch - 1];
      assert.ok(share >= MIN_SHARE, `epoch ${epoch} served ${(share * 100).toFixed(1)}% from cache, under ${MIN_SHARE * 100}%`);
    }
    await daemons.stop(daemon);
  });
});

const TIER_FIELDS = ['usedBytes', 'capacityBytes', 'blocks', 'hits', 'misses', 'evictions', 'errors'] as const;
const S3_FIELDS = ['getRequests', 'getBytes', 'headRequests', 'listRequests', 'errors', 'retries'] as const;
const isCount = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;

describe('cachalot stats', () => {
  test('--json prints the documented fields with the right types and figures', async () => {
    let stats: StatsJson | undefined;
    // The disk tier writes behind the read.
    await waitFor(async () => {
      stats = await statsOf(shared.mountpoint, s3.env);
      return tierOf(stats, 'disk').blocks === MISC_BLOCKS;
    }, 10_000, 100);
    const s = stats as unknown as Record<string, unknown> & StatsJson;
    assert.equal(s.mountpoint, shared.mountpoint);
    assert.equal(s.source, `s3://${BUCKET}/`);
    assert.equal(s.pid, shared.pid);
    assert.ok(isCount(s.uptimeSeconds), `uptimeSeconds: ${s.uptimeSeconds}`);
    assert.ok(Array.isArray(s.tiers), 'tiers is an array');
    assert.deepEqual(s.tiers.map((t) => t.tier), ['ram', 'disk'], 'fastest tier first');
    for (const tier of s.tiers) {
      for (const field of TIER_FIELDS) assert.ok(isCount(tier[field]), `tiers[${tier.tier}].${field}: ${JSON.stringify(tier[field])}`);
    }
    // Defaults: --ram-cache 1GiB, of which the RAM tier gets what readahead and writes leave; --disk-cache 64GiB.
    assert.equal(tierOf(s, 'ram').capacityBytes, planMemory({ ramCache: 1024 ** 3, blockSize: MiB }).ramTierBytes);
    assert.equal(tierOf(s, 'disk').capacityBytes, 64 * 1024 ** 3);
    for (const tier of s.tiers) assert.equal(tier.misses, MISC_BLOCKS, `${tier.tier} missed each block once`);
    // Read once, a block is kept on disk only: RAM takes it from its second request.
    assert.deepEqual([tierOf(s, 'ram').blocks, tierOf(s, 'ram').usedBytes], [0, 0], 'RAM holds nothing read once');
    assert.equal(tierOf(s, 'disk').blocks, MISC_BLOCKS, "disk holds the file's blocks");
    assert.equal(tierOf(s, 'disk').usedBytes, MISC.get(MISC_KEY)!.length, "disk holds the file's bytes");
    assert.equal(typeof s.s3, 'object');
    for (const field of S3_FIELDS) assert.ok(isCount(s.s3[field]), `s3.${field}: ${JSON.stringify(s.s3[field])}`);
    // Blocks asked for together share a GET (up to MAX_RUN_BYTES); each byte comes once.
    const fewest = Math.ceil(MISC.get(MISC_KEY)!.length / MAX_RUN_BYTES);
    assert.ok(s.s3.getRequests >= fewest && s.s3.getRequests <= MISC_BLOCKS, `${s.s3.getRequests} GETs for ${MISC_BLOCKS} blocks`);
    assert.equal(s.s3.getBytes, MISC.get(MISC_KEY)!.length);
    assert.ok(isCount(s.reads.bytes) && s.reads.bytes >= MISC.get(MISC_KEY)!.length, `reads.bytes: ${s.reads.bytes}`);
    assert.ok(isCount(s.reads.openFiles), `reads.openFiles: ${s.reads.openFiles}`);
  });

  test('the human form prints a line per tier', async () => {
    const result = await runCli(['stats', shared.mountpoint], s3.env);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.ok(lines[0].includes(shared.mountpoint), `the first line names the mountpoint: ${lines[0]}`);
    for (const tier of ['ram', 'disk']) {
      const rows = lines.filter((line) => line.split(/\s+/)[0] === tier);
      assert.equal(rows.length, 1, `one line for the ${tier} tier:\n${result.stdout}`);
    }
    const disk = lines.find((line) => line.startsWith('disk'))!;
    assert.ok(disk.includes(String(MISC_BLOCKS)), `the disk line shows its blocks: ${disk}`);
    assert.ok(lines.some((line) => line.startsWith('S3:')), `an S3 line:\n${result.stdout}`);
  });

  test('on a directory no daemon serves: exit 1 and one line saying "no cachalot daemon"', async () => {
    const plain = join(work, 'not-a-mount');
    mkdirSync(plain);
    for (const args of [['stats', plain], ['stats', plain, '--json']]) {
      const result = await runCli(args, s3.env);
      assert.equal(result.code, 1, `cachalot ${args.join(' ')}: exit 1 (${result.stderr.trim()})`);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${JSON.stringify(result.stderr)}`);
      assert.match(lines[0], /no cachalot daemon/);
      assert.equal(result.stdout, '', 'nothing on stdout');
    }
  });
});


describe('--metrics', () => {
  test('/metrics has cachalot_cache_hits_total{tier="ram"} and cachalot_cache_used_bytes{tier="disk"} after a read', async (t) => {
    // Two re-reads, when the page cache can be dropped: the first comes from
    // disk and promotes the blocks into RAM, the second hits RAM.
    const cannotDrop = dropPageCache();
    if (cannotDrop) t.diagnostic(`${cannotDrop}: the RAM hits are not checked`);
    else {
      await readAllAndCompare(shared.mountpoint, MISC, 're-read after drop_caches');
      dropPageCache();
      await readAllAndCompare(shared.mountpoint, MISC, 'second re-read after drop_caches');
    }

    const stats = await statsOf(shared.mountpoint, s3.env);
    const text = await metricsText(metricsPort);
    const hits = seriesValue(text, 'cachalot_cache_hits_total{tier="ram"}');
    const used = seriesValue(text, 'cachalot_cache_used_bytes{tier="disk"}');
    t.diagnostic(`ram hits ${hits}, disk used ${used}; stats: ram hits ${tierOf(stats, 'ram').hits}, disk used ${tierOf(stats, 'disk').usedBytes}`);
    assert.notEqual(hits, undefined, 'cachalot_cache_hits_total{tier="ram"} is exported');
    assert.notEqual(used, undefined, 'cachalot_cache_used_bytes{tier="disk"} is exported');
    assert.equal(used, tierOf(stats, 'disk').usedBytes, 'the disk tier gauge agrees with stats');
    assert.equal(used, MISC.get(MISC_KEY)!.length, "the disk tier holds the file's bytes");
    if (!cannotDrop) {
      assert.ok(hits! >= MISC_BLOCKS, `the re-read hit the RAM tier (${hits})`);
      assert.equal(hits, tierOf(stats, 'ram').hits, 'the RAM hits counter agrees with stats');
    }
  });

  test('/metrics has the block memory budget (ram_cache), and the block memory held stayed within it', async () => {
    const text = await metricsText(metricsPort);
    const [used, peak, budget] = ['bytes', 'peak_bytes', 'budget_bytes'].map((s) => seriesValue(text, `cachalot_block_memory_${s}`));
    assert.equal(budget, 1024 ** 3, 'the default --ram-cache');
    assert.ok(used! > 0 && used! <= peak! && peak! <= budget!, `used ${used}, peak ${peak}, budget ${budget}`);
  });
});
