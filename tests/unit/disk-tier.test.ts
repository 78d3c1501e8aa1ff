import { crc32c } from '@node-rs/crc32';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, fstatSync, readSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { BufferPool } from '../../src/block/block-buffer';
import { DiskIndex } from '../../src/block/disk-index';
import { objectFile, objectKeyOf } from '../../src/block/object-files';
import { DiskTier, DiskTierOptions } from '../../src/block/disk-tier';
import { BlockId, blockKey } from '../../src/block/types';
import { sampleBytes } from '../../src/embedded/sample-dataset';
import { isCachalotError } from '../../src/errors';
import { silentLogger } from '../../src/obs/logger';
import { pooledBlock } from '../support/block-bytes';

const BLOCK = 64 * 1024;
const pool = new BufferPool({ size: BLOCK, poison: true });

function id(index: number, key = 'k'): BlockId {
  return { bucket: 'b', key, etag: '"e"', index };
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
async function put(tier: DiskTier, index: number, bytes: Buffer, key = 'k'): Promise<void> {
  const block = pooledBlock(pool, bytes);
  try {
    await tier.put(id(index, key), block);
  } finally {
    block.release();
  }
}

async function assertHit(tier: DiskTier, index: number, bytes: Buffer, key = 'k'): Promise<void> {
  const block = await tier.get(id(index, key));
  assert.ok(block, `block ${index} is a hit`);
  try {
    assert.ok(block.bytes.equals(bytes), `block ${index} has its bytes`);
    assert.equal(block.crc32c, crc32c(bytes));
  } finally {
    block.release();
  }
}

/** The file of object `key` (all its blocks, at their offsets). */
function fileOf(dir: string, key = 'k'): string {
  return join(dir, objectFile(objectKeyOf(blockKey(id(0, key)))));
}

/** The files under a folder, recursively, with their sizes and the disk space they take. */
async function filesUnder(folder: string): Promise<Array<{ path: string; size: number; allocated: number }>> {
  const files = [];
  for (const path of await readdir(folder, { recursive: true })) {
    const info = await stat(join(folder, path));
    if (info.isFile()) files.push({ path, size: info.size, allocated: info.blocks * 512 });
  }
  return files;
}

const allocatedUnder = async (folder: string) => (await filesUnder(folder)).reduce((sum, file) => sum + file.allocated, 0);

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

test('O_DIRECT: last blocks of any length are stored at their offset, the file as long as the object, and read back; the page cache path reads the same files', async (t) => {
  const { dir, open } = await setup(t);
  const direct = await open({ directIo: true });
  const sizes = [BLOCK, 1, 4095, 4097, BLOCK - 1];
  const objects = sizes.map((size, i) => ({ key: `k${i}`, first: randomBytes(BLOCK), last: randomBytes(size) }));
  // Last blocks first: a padded write past the object's end is cut back, and the block before it lands in a hole.
  for (const { key, first, last } of objects) {
    await put(direct, 1, last, key);
    await put(direct, 0, first, key);
  }
  for (const { key, first, last } of objects) {
    await assertHit(direct, 0, first, key);
    await assertHit(direct, 1, last, key);
    assert.equal((await stat(fileOf(dir, key))).size, BLOCK + last.length, `${key}: the file is as long as the object, not its pages`);
    assert.ok((await readFile(fileOf(dir, key))).equals(Buffer.concat([first, last])), `${key}: the file is the object`);
  }
  await direct.close();
  const buffered = await open({ directIo: false });
  for (const { key, first, last } of objects) {
    await assertHit(buffered, 0, first, key);
    await assertHit(buffered, 1, last, key);
  }
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
  test(`a block with ${damage} is a miss, deleted, and can be cached again`, async (t) => {
    const { dir, open } = await setup(t);
    const capture = captureLog();
    const tier = await open({ log: capture.log });
    const bytes = randomBytes(BLOCK);
    await put(tier, 0, bytes);
    await harm(fileOf(dir));

    assert.equal(await tier.get(id(0)), undefined);
    assert.equal(tier.stats()[0].errors, 1);
    assert.equal(tier.stats()[0].blocks, 0);
    assert.equal(existsSync(fileOf(dir)), false, 'the file, its only block gone, is deleted');
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

test('open deletes unlisted files, and drops entries whose file is missing or ends before them', async (t) => {
  const { dir, open } = await setup(t);
  const blocks = Array.from({ length: 3 }, () => randomBytes(BLOCK));
  const first = await open();
  for (const [i, bytes] of blocks.entries()) await put(first, i, bytes);
  await put(first, 0, randomBytes(BLOCK), 'j');
  await first.close();
  const orphan = join(dir, 'objects', 'ab', 'ab0123');
  const leftover = join(dir, 'tmp', '17');
  await writeFile(orphan, 'x');
  await mkdir(dirname(leftover));
  await writeFile(leftover, 'x');
  await rm(fileOf(dir, 'j'));
  await truncate(fileOf(dir), BLOCK + 100);

  const capture = captureLog();
  const tier = await open({ log: capture.log });
  assert.equal(existsSync(orphan), false);
  assert.equal(existsSync(join(dir, 'tmp')), false, "the block-file layout's tmp/ goes");
  const [recovered] = capture.at(INFO);
  assert.equal(recovered.msg, 'disk cache recovered');
  assert.deepEqual([recovered.blocks, recovered.orphans, recovered.dropped, recovered.evicted], [1, 1, 3, 0]);
  assert.equal(tier.stats()[0].blocks, 1);
  await assertHit(tier, 0, blocks[0]);
  assert.equal(await tier.get(id(1)), undefined);
  assert.equal(await tier.get(id(2)), undefined);
  assert.equal(await tier.get(id(0, 'j')), undefined);
  assert.equal(tier.stats()[0].errors, 0);
  await tier.close();
  assert.equal(await indexEntry(dir, 1), undefined);
});

test('a cache of another layout or block size is emptied at open, with one warning', async (t) => {
  const { dir, open } = await setup(t);
  const first = await open();
  await put(first, 0, randomBytes(BLOCK));
  await first.close();

  let capture = captureLog();
  const halved = await open({ blockSize: BLOCK / 2, log: capture.log });
  assert.equal(halved.stats()[0].blocks, 0, 'block 0 of 64 KiB is not block 0 of 32 KiB');
  assert.equal(existsSync(fileOf(dir)), false);
  assert.match(String(capture.at(WARN)[0]?.reason), /blocks of 65536 bytes, now 32768/);
  await halved.close();

  // The block-file layout: blocks/ beside an index without a format.
  await rm(join(dir, 'index'), { recursive: true });
  await mkdir(join(dir, 'blocks', 'ab'), { recursive: true });
  await writeFile(join(dir, 'blocks', 'ab', 'ab01'), 'x');
  capture = captureLog();
  const legacy = await open({ log: capture.log });
  assert.equal(existsSync(join(dir, 'blocks')), false);
  assert.match(String(capture.at(WARN)[0]?.reason), /block-file layout/);
  const bytes = randomBytes(BLOCK);
  await put(legacy, 0, bytes);
  await assertHit(legacy, 0, bytes);
});

test('three times the capacity offered: usedBytes and the disk space under objects/ stay within it', async (t) => {
  const { dir, open } = await setup(t);
  const capacity = 8 * BLOCK;
  const tier = await open({ capacityBytes: capacity });
  for (let i = 0; i < 24; i++) {
    // Asked for before being offered, as by a reader, each more often than the one before so that it wins admission.
    for (let k = 0; k < i + 2; k++) assert.equal(await tier.get(id(i)), undefined);
    await put(tier, i, randomBytes(BLOCK));
    assert.ok(tier.stats()[0].usedBytes <= capacity);
    // A sparse file's extent tree takes a few KiB of the filesystem's own beside the data.
    const taken = await allocatedUnder(join(dir, 'objects'));
    const used = tier.stats()[0].usedBytes;
    assert.ok(taken >= used && taken <= used + 16 * 1024, `after block ${i}, the disk space taken (${taken}) is what the tier counts (${used})`);
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
  assert.equal(tier.contains(id(0)), false, 'the least recently used block went');
  const taken = await allocatedUnder(join(dir, 'objects'));
  assert.ok(taken >= 3 * BLOCK && taken < 4 * BLOCK, `its bytes were punched out of the file: ${taken} bytes taken`);
  await assertHit(tier, 3, bytes);

  // Nothing free: the tier empties itself and still cannot write.
  freeBytes = 0;
  await put(tier, 4, randomBytes(BLOCK));
  assert.equal(await tier.get(id(4)), undefined);
  assert.deepEqual(await filesUnder(join(dir, 'objects')), [], 'the file left without data is deleted');
  const [stats] = tier.stats();
  assert.deepEqual([stats.blocks, stats.usedBytes, stats.evictions, stats.errors], [0, 0, 4, 0]);
});

test('a failing write resolves, counts an error, logs once per burst, and leaves a miss', async (t) => {
  const { dir, open } = await setup(t);
  const capture = captureLog();
  const tier = await open({ log: capture.log });
  // Tests run as root, where modes do not stop writes: a file where the object's folder was makes them fail with ENOTDIR.
  const folder = dirname(fileOf(dir));
  await rm(folder, { recursive: true });
  await writeFile(folder, '');

  await put(tier, 0, randomBytes(BLOCK));
  await put(tier, 1, randomBytes(BLOCK));
  assert.equal(await tier.get(id(0)), undefined);
  const [stats] = tier.stats();
  assert.deepEqual([stats.errors, stats.blocks, stats.usedBytes], [2, 0, 0]);
  const errors = capture.at(ERROR);
  assert.equal(errors.length, 1, 'the second failure is counted, not logged');
  assert.match(String((errors[0].err as { code: string }).code), /ENOTDIR/);

  // The disk recovers: blocks are cached again.
  await rm(folder);
  await mkdir(folder);
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
  // Bytes written but not yet listed when the writer died may take space too; they are never served.
  assert.ok((await allocatedUnder(join(dir, 'objects'))) >= recovered.usedBytes);
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

/** All the bytes behind a descriptor, read at their offsets. */
function readAllOf(fd: number): Buffer {
  const bytes = Buffer.alloc(fstatSync(fd).size);
  for (let offset = 0; offset < bytes.length; ) offset += readSync(fd, bytes, offset, bytes.length - offset, offset);
  return bytes;
}

/** An object of three blocks (the last short), cached whole. */
async function cacheWhole(tier: DiskTier, key = 'k'): Promise<{ bytes: Buffer; version: { bucket: string; key: string; etag: string; size: number } }> {
  const bytes = randomBytes(2 * BLOCK + 1000);
  for (let i = 0; i < 3; i++) await put(tier, i, bytes.subarray(i * BLOCK, (i + 1) * BLOCK), key);
  return { bytes, version: { bucket: 'b', key, etag: '"e"', size: bytes.length } };
}

test('openObject: an object with every block cached is its file, read through the descriptor; one block short, none', async (t) => {
  const { open } = await setup(t);
  const tier = await open();
  const { bytes, version } = await cacheWhole(tier);
  const file = await tier.openObject(version);
  assert.ok(file, 'complete: handed out');
  assert.ok(readAllOf(file.fd).equals(bytes), 'the file is the object, byte for byte');
  file.release();
  file.release();

  await tier.remove(id(1));
  assert.equal(await tier.openObject(version), undefined, 'a block missing: not handed out');
  assert.equal(await tier.openObject({ ...version, size: 0 }), undefined, 'an empty object has no file');
  assert.equal(await tier.openObject({ ...version, key: 'other' }), undefined);
});

test('openObject checks every block once per process: a byte changed while the tier was closed drops that block, never handed out', async (t) => {
  const { dir, open } = await setup(t);
  const first = await open();
  const { bytes, version } = await cacheWhole(first);
  await first.close();
  const file = await readFile(fileOf(dir));
  file[BLOCK + 7] ^= 0x01;
  await writeFile(fileOf(dir), file);

  const capture = captureLog();
  const tier = await open({ log: capture.log });
  assert.equal(await tier.openObject(version), undefined);
  assert.deepEqual(capture.at(WARN)[0]?.blocks, [1], 'the bad block is named');
  assert.equal(tier.stats()[0].errors, 1);
  assert.equal(tier.contains(id(1)), false, 'and dropped');
  await assertHit(tier, 0, bytes.subarray(0, BLOCK));

  // Fetched again, the object is whole and checked: handed out.
  await put(tier, 1, bytes.subarray(BLOCK, 2 * BLOCK));
  const again = await tier.openObject(version);
  assert.ok(again && readAllOf(again.fd).equals(bytes));
  again.release();
});

test('a held file keeps its blocks from eviction; evicting one by hand deletes the whole file, which its holder reads on', async (t) => {
  const { dir, open } = await setup(t);
  const tier = await open({ capacityBytes: 6 * BLOCK });
  const { bytes, version } = await cacheWhole(tier);
  const file = await tier.openObject(version);
  assert.ok(file);

  // Three times the capacity of newer, more popular blocks: none of the held ones goes.
  for (let i = 0; i < 18; i++) {
    for (let k = 0; k < 4; k++) (await tier.get(id(i, 'other')))?.release();
    await put(tier, i, randomBytes(BLOCK), 'other');
  }
  for (let i = 0; i < 3; i++) assert.ok(tier.contains(id(i)), `held block ${i} is still cached`);
  assert.ok(readAllOf(file.fd).equals(bytes));

  await tier.remove(id(2));
  assert.equal(existsSync(fileOf(dir)), false, 'the file is deleted, not punched');
  for (let i = 0; i < 3; i++) assert.equal(tier.contains(id(i)), false, `block ${i} went with it`);
  assert.ok(readAllOf(file.fd).equals(bytes), 'the holder still reads every byte of its version');
  assert.equal(await tier.openObject(version), undefined);
  file.release();

  // Released, cached again: evictable as any other block.
  const again = await cacheWhole(tier);
  const held = await tier.openObject(again.version);
  assert.ok(held);
  held.release();
  for (let i = 18; i < 40; i++) {
    // More popular than the object's blocks, which each open counted.
    for (let k = 0; k < 8; k++) (await tier.get(id(i, 'other')))?.release();
    await put(tier, i, randomBytes(BLOCK), 'other');
  }
  assert.equal([0, 1, 2].filter((i) => tier.contains(id(i))).length, 0, 'once released, its blocks are evicted as others');
});

test('pins outlast a hold: a pinned block of a held file is still pinned after release', async (t) => {
  const { open } = await setup(t);
  const tier = await open({ capacityBytes: 6 * BLOCK });
  const { version } = await cacheWhole(tier);
  await tier.pin(id(0), BLOCK);
  const file = await tier.openObject(version);
  assert.ok(file);
  await tier.unpin(id(0));
  await tier.pin(id(1), BLOCK);
  file.release();
  assert.equal(tier.isPinned(id(1)), true);
  for (let i = 0; i < 12; i++) {
    for (let k = 0; k < 4; k++) (await tier.get(id(i, 'other')))?.release();
    await put(tier, i, randomBytes(BLOCK), 'other');
  }
  assert.ok(tier.contains(id(1)), 'the block pinned while held stays');
  assert.equal(tier.contains(id(0)), false, 'the block unpinned while held is evicted as any other');
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
