import { crc32c } from '@node-rs/crc32';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { BufferPool } from '../../src/block/block-buffer';
import { blockFile, DiskIndex } from '../../src/block/disk-index';
import { DiskTier, DiskTierOptions } from '../../src/block/disk-tier';
import { BlockId, blockKey } from '../../src/block/types';
import { sampleBytes } from '../../src/embedded/sample-dataset';
import { isCachalotError } from '../../src/errors';
import { silentLogger } from '../../src/obs/logger';
import { pooledBlock } from '../support/block-bytes';

const BLOCK = 64 * 1024;
const pool = new BufferPool({ size: BLOCK, poison: true });

function id(index: number): BlockId {
  return { bucket: 'b', key: 'k', etag: '"e"', index };
}

/** Log lines as objects, to check what the tier reported. */
function captureLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, at: (level: number) => lines.filter((line) => line.level === level) };
}
const INFO = 30;
const WARN = 40;
const ERROR = 50;

/** A cache dir that does not exist yet, and an open() whose tiers are closed and files deleted after the test. */
async function setup(t: TestContext) {
  const root = await mkdtemp(join(tmpdir(), 'cachalot-disk-'));
  const tiers: DiskTier[] = [];
  t.after(async () => {
    for (const tier of tiers) await tier.close();
    await rm(root, { recursive: true, force: true });
  });
  const dir = join(root, 'cache');
  const open = async (options: Partial<DiskTierOptions> = {}) => {
    const tier = await DiskTier.open({ dir, capacityBytes: 64 * BLOCK, pool, blockSize: BLOCK, log: silentLogger, ...options });
    tiers.push(tier);
    return tier;
  };
  return { root, dir, open };
}

/** Offers bytes as a pooled block, then drops the caller's reference as a reader would. */
async function put(tier: DiskTier, index: number, bytes: Buffer): Promise<void> {
  const block = pooledBlock(pool, bytes);
  try {
    await tier.put(id(index), block);
  } finally {
    block.release();
  }
}

async function assertHit(tier: DiskTier, index: number, bytes: Buffer): Promise<void> {
  const block = await tier.get(id(index));
  assert.ok(block, `block ${index} is a hit`);
  try {
    assert.ok(block.bytes.equals(bytes), `block ${index} has its bytes`);
    assert.equal(block.crc32c, crc32c(bytes));
  } finally {
    block.release();
  }
}

function fileOf(dir: string, index: number): string {
  return join(dir, blockFile(blockKey(id(index))));
}

/** The files under a folder, recursively, with their sizes. */
async function filesUnder(folder: string): Promise<Array<{ path: string; size: number }>> {
  const files = [];
  for (const path of await readdir(folder, { recursive: true })) {
    const info = await stat(join(folder, path));
    if (info.isFile()) files.push({ path, size: info.size });
  }
  return files;
}

async function indexEntry(dir: string, index: number) {
  const diskIndex = DiskIndex.open(dir);
  try {
    return diskIndex.get(blockKey(id(index)));
  } finally {
    await diskIndex.close();
  }
}

test('put then get: the same bytes and CRC; an unknown block is a miss; stats count', async (t) => {
  const { open } = await setup(t);
  const tier = await open();
  const full = randomBytes(BLOCK);
  const last = randomBytes(1000);
  await put(tier, 0, full);
  // The caller may drop its reference right after offering: the tier holds its own while writing.
  const block = pool.take(last.length);
  last.copy(block.bytes);
  const offered = tier.put(id(1), block);
  block.release();
  await offered;
  assert.equal(block.crc32c, crc32c(last), 'a block offered without a CRC gets one');

  await assertHit(tier, 0, full);
  await assertHit(tier, 1, last);
  assert.equal(await tier.get(id(2)), undefined);
  assert.deepEqual(tier.stats(), [
    { tier: 'disk', usedBytes: BLOCK + 1000, capacityBytes: 64 * BLOCK, blocks: 2, hits: 2, misses: 1, evictions: 0, pinnedBytes: 0, errors: 0 },
  ]);
});

test('O_DIRECT: blocks of any length are stored at their exact length and read back; the page cache path reads the same files', async (t) => {
  const { dir, open } = await setup(t);
  const direct = await open({ directIo: true });
  const sizes = [BLOCK, 1, 4095, 4097, BLOCK - 1];
  const contents = sizes.map((size) => randomBytes(size));
  for (const [i, bytes] of contents.entries()) await put(direct, i, bytes);
  for (const [i, bytes] of contents.entries()) {
    await assertHit(direct, i, bytes);
    assert.equal((await stat(fileOf(dir, i))).size, bytes.length, `block ${i}: the file is as long as the block, not its pages`);
  }
  await direct.close();
  const buffered = await open({ directIo: false });
  for (const [i, bytes] of contents.entries()) await assertHit(buffered, i, bytes);
});

test('blocks survive a close and open, in their order of last access', async (t) => {
  const { open } = await setup(t);
  const blocks = Array.from({ length: 4 }, () => randomBytes(BLOCK));
  const first = await open({ capacityBytes: 4 * BLOCK });
  for (const [i, bytes] of blocks.entries()) await put(first, i, bytes);
  await sleep(5);
  await assertHit(first, 0, blocks[0]);
  await first.close();

  const second = await open({ capacityBytes: 4 * BLOCK });
  assert.deepEqual([second.stats()[0].blocks, second.stats()[0].usedBytes], [4, 4 * BLOCK], 'nothing to put again');
  // Block 1 is the least recently used: block 0 was read after it. Block 4,
  // asked for twice (admission does not count the request that brings it),
  // outranks the blocks not asked for since the restart and pushes out one.
  for (let k = 0; k < 2; k++) assert.equal(await second.get(id(4)), undefined);
  await put(second, 4, randomBytes(BLOCK));
  assert.equal(second.stats()[0].evictions, 1);
  assert.equal(await second.get(id(1)), undefined);
  for (const i of [0, 2, 3]) await assertHit(second, i, blocks[i]);
});

for (const [damage, harm] of [
  ['one flipped byte', flipByte],
  ['a truncated file', (file: string) => truncate(file, BLOCK / 2)],
] as const) {
  test(`a block file with ${damage} is a miss, deleted, and can be cached again`, async (t) => {
    const { dir, open } = await setup(t);
    const capture = captureLog();
    const tier = await open({ log: capture.log });
    const bytes = randomBytes(BLOCK);
    await put(tier, 0, bytes);
    await harm(fileOf(dir, 0));

    assert.equal(await tier.get(id(0)), undefined);
    assert.equal(tier.stats()[0].errors, 1);
    assert.equal(tier.stats()[0].blocks, 0);
    assert.equal(existsSync(fileOf(dir, 0)), false, 'the file is deleted');
    assert.equal(capture.at(WARN).length, 1);
    await tier.close();
    assert.equal(await indexEntry(dir, 0), undefined, 'the index entry is deleted');

    const reopened = await open();
    await put(reopened, 0, bytes);
    await assertHit(reopened, 0, bytes);
  });
}

async function flipByte(file: string): Promise<void> {
  const bytes = await readFile(file);
  bytes[1234] ^= 0x01;
  await writeFile(file, bytes);
}

test('open deletes leftovers in tmp/ and unlisted files, and drops entries without their file', async (t) => {
  const { dir, open } = await setup(t);
  const blocks = Array.from({ length: 3 }, () => randomBytes(BLOCK));
  const first = await open();
  for (const [i, bytes] of blocks.entries()) await put(first, i, bytes);
  await first.close();
  const orphan = join(dir, 'blocks', 'ab', 'ab0123');
  const leftover = join(dir, 'tmp', '17');
  await writeFile(orphan, 'x');
  await writeFile(leftover, 'x');
  await rm(fileOf(dir, 1));
  await truncate(fileOf(dir, 2), 100);

  const capture = captureLog();
  const tier = await open({ log: capture.log });
  assert.equal(existsSync(orphan), false);
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  assert.equal(existsSync(fileOf(dir, 2)), false, 'a file of the wrong size goes with its entry');
  const [recovered] = capture.at(INFO);
  assert.equal(recovered.msg, 'disk cache recovered');
  assert.deepEqual(
    [recovered.blocks, recovered.tmpFiles, recovered.orphans, recovered.dropped, recovered.evicted],
    [1, 1, 2, 2, 0],
  );
  assert.equal(tier.stats()[0].blocks, 1);
  await assertHit(tier, 0, blocks[0]);
  assert.equal(await tier.get(id(1)), undefined);
  assert.equal(await tier.get(id(2)), undefined);
  assert.equal(tier.stats()[0].errors, 0);
  await tier.close();
  assert.equal(await indexEntry(dir, 1), undefined);
});

test('three times the capacity offered: usedBytes and the bytes under blocks/ stay within it', async (t) => {
  const { dir, open } = await setup(t);
  const capacity = 8 * BLOCK;
  const tier = await open({ capacityBytes: capacity });
  for (let i = 0; i < 24; i++) {
    // Asked for before being offered, as by a reader, each more often than the one before so that it wins admission.
    for (let k = 0; k < i + 2; k++) assert.equal(await tier.get(id(i)), undefined);
    await put(tier, i, randomBytes(BLOCK));
    assert.ok(tier.stats()[0].usedBytes <= capacity);
    const onDisk = (await filesUnder(join(dir, 'blocks'))).reduce((sum, file) => sum + file.size, 0);
    assert.equal(onDisk, tier.stats()[0].usedBytes, `after block ${i}, the files are what the tier counts`);
  }
  assert.ok(tier.stats()[0].evictions >= 8, `evictions: ${tier.stats()[0].evictions}`);
});

test('free-space floor: older blocks are evicted for it, and a block that cannot fit is not written', async (t) => {
  const { dir, open } = await setup(t);
  const totalBytes = 100 * BLOCK;
  let freeBytes = 100 * BLOCK;
  const tier = await open({ minFreeFraction: 0.05, statfs: async () => ({ freeBytes, totalBytes }) });
  for (let i = 0; i < 3; i++) await put(tier, i, randomBytes(BLOCK));

  // 5.5 blocks free, a floor of 5: one block must go before one more is written.
  freeBytes = 5.5 * BLOCK;
  const bytes = randomBytes(BLOCK);
  await put(tier, 3, bytes);
  assert.equal(tier.stats()[0].evictions, 1);
  assert.equal(existsSync(fileOf(dir, 0)), false, 'the least recently used block went');
  await assertHit(tier, 3, bytes);

  // Nothing free: the tier empties itself and still cannot write.
  freeBytes = 0;
  await put(tier, 4, randomBytes(BLOCK));
  assert.equal(await tier.get(id(4)), undefined);
  assert.deepEqual(await filesUnder(join(dir, 'blocks')), []);
  const [stats] = tier.stats();
  assert.deepEqual([stats.blocks, stats.usedBytes, stats.evictions, stats.errors], [0, 0, 4, 0]);
});

test('a failing write resolves, counts an error, logs once per burst, and leaves a miss', async (t) => {
  const { dir, open } = await setup(t);
  const capture = captureLog();
  const tier = await open({ log: capture.log });
  // Tests run as root, where modes do not stop writes: a file where tmp/ was makes them fail with ENOTDIR.
  const tmp = join(dir, 'tmp');
  await rm(tmp, { recursive: true });
  await writeFile(tmp, '');

  await put(tier, 0, randomBytes(BLOCK));
  await put(tier, 1, randomBytes(BLOCK));
  assert.equal(await tier.get(id(0)), undefined);
  const [stats] = tier.stats();
  assert.deepEqual([stats.errors, stats.blocks, stats.usedBytes], [2, 0, 0]);
  const errors = capture.at(ERROR);
  assert.equal(errors.length, 1, 'the second failure is counted, not logged');
  assert.match(String((errors[0].err as { code: string }).code), /ENOTDIR/);

  // The disk recovers: blocks are cached again.
  await rm(tmp);
  await mkdir(tmp);
  const bytes = randomBytes(BLOCK);
  await put(tier, 0, bytes);
  await assertHit(tier, 0, bytes);
});

test('a second open of a cache dir in use is refused; a lock left by a dead process is taken over', async (t) => {
  const { dir, open } = await setup(t);
  const first = await open();
  await assert.rejects(open(), (err) => {
    assert.ok(isCachalotError(err, 'CacheDirBusy'));
    assert.match(err.message, new RegExp(`${dir}.*${process.pid}`));
    return true;
  });
  await first.close();
  assert.equal(existsSync(join(dir, 'lock')), false, 'close releases the lock');

  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  await writeFile(join(dir, 'lock'), `${dead}\n`);
  await open();
  assert.equal((await readFile(join(dir, 'lock'), 'utf8')).trim(), String(process.pid));
});

test('kill -9 while writing: after open, index and files agree and every block reads back right', async (t) => {
  const { root, dir, open } = await setup(t);
  const keys = 96;
  const script = join(root, 'writer.js');
  await writeFile(
    script,
    `const { DiskTier } = require(${JSON.stringify(require.resolve('../../src/block/disk-tier'))});
const { BufferPool } = require(${JSON.stringify(require.resolve('../../src/block/block-buffer'))});
const { sampleBytes } = require(${JSON.stringify(require.resolve('../../src/embedded/sample-dataset'))});
const pool = new BufferPool({ size: ${BLOCK} });
const quiet = { info() {}, warn() {}, error() {} };
// A disk of 20 blocks with a floor of 4 free: past 16 blocks, every write first evicts, so deletions are in flight too.
const statfs = async () => ({ freeBytes: ${20 * BLOCK} - tier.stats()[0].usedBytes, totalBytes: ${20 * BLOCK} });
let tier;
(async () => {
  tier = await DiskTier.open({ dir: ${JSON.stringify(dir)}, capacityBytes: ${32 * BLOCK}, pool, blockSize: ${BLOCK}, log: quiet, minFreeFraction: 0.2, statfs });
  for (let n = 0; ; n += 4) {
    if (n === 32) process.stdout.write('evicting\\n');
    await Promise.all([0, 1, 2, 3].map(async (k) => {
      const id = { bucket: 'b', key: 'k', etag: '"e"', index: (n + k) % ${keys} };
      const hit = await tier.get(id);
      hit?.release();
      const block = pool.take(${BLOCK});
      sampleBytes(String(id.index), ${BLOCK}).copy(block.bytes);
      await tier.put(id, block);
      block.release();
    }));
  }
})();
`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.after(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', () => reject(new Error('the writer exited before it was evicting')));
  });
  await sleep(200);
  child.kill('SIGKILL');
  await exited;

  const tier = await open({ capacityBytes: 32 * BLOCK });
  const [recovered] = tier.stats();
  assert.ok(recovered.blocks > 0, 'the writer cached blocks before it was killed');
  const files = await filesUnder(join(dir, 'blocks'));
  assert.equal(files.length, recovered.blocks, 'one file per indexed block');
  assert.equal(files.reduce((sum, file) => sum + file.size, 0), recovered.usedBytes);
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  let hits = 0;
  for (let i = 0; i < keys; i++) {
    const block = await tier.get(id(i));
    if (!block) continue;
    hits++;
    assert.ok(block.bytes.equals(sampleBytes(String(i), BLOCK)), `block ${i} has its bytes`);
    block.release();
  }
  assert.equal(hits, recovered.blocks);
  assert.equal(tier.stats()[0].errors, 0);
});

test('the cache dir is 0700, created so or tightened', async (t) => {
  const { root, dir, open } = await setup(t);
  await (await open()).close();
  assert.equal((await stat(dir)).mode & 0o777, 0o700);

  const loose = join(root, 'loose');
  await mkdir(loose);
  await chmod(loose, 0o755);
  await open({ dir: loose });
  assert.equal((await stat(loose)).mode & 0o777, 0o700);
});
