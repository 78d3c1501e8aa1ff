import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadMountConfig } from '../../src/config/load-config';
import type { MountConfig } from '../../src/config/mount-config';
import { openBlockStack } from '../../src/mount/block-stack';
import { MemoryStore } from '../../src/object/memory-store';
import type { RangeRequest } from '../../src/object/types';
import { silentLogger } from '../../src/obs/logger';
import { FileReader } from '../../src/vfs/file-reader';
import { HeldBlocks } from '../../src/vfs/held-blocks';
import type { FileNode } from '../../src/vfs/namespace';
import { blockBytes } from '../support/block-bytes';

// The daemon's block stack (pool, RAM tier, disk tier, origin) and readers as
// a mount builds them from its config, scaled down: 64 KiB blocks and a
// budget of 32 of them. The pool counts every byte of block data (its own
// buffers, in use or idle, and lz4 blocks, copies and decompressed blocks);
// its peak must stay within ram_cache whatever the readers do.
const BLOCK = 64 * 1024;
const BUDGET = 32 * BLOCK;
const READ = 32 * 1024;

/** An origin that answers a GET a little later, as S3 does, so that the disk tier's writes keep up. */
class SlowStore extends MemoryStore {
  override async getRange(request: RangeRequest): Promise<Buffer[]> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return super.getRange(request);
  }
}

async function mount(t: { after(fn: () => Promise<void>): void }, flags: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'cachalot-budget-'));
  const config: MountConfig = loadMountConfig({
    uri: 's3://bucket',
    mountpoint: '/mnt/none',
    env: {},
    flags: { cache_dir: dir, ram_cache: String(BUDGET), block_size: String(BLOCK), disk_cache: '1GiB', ...flags },
  });
  const store = new SlowStore('bucket');
  const stack = await openBlockStack(config, store, silentLogger);
  const held = new HeldBlocks(stack.source, config.memory.readaheadBytes);
  t.after(async () => {
    await stack.close();
    await rm(dir, { recursive: true, force: true });
  });
  const put = (key: string, bytes: Buffer): FileNode => {
    const info = store.put(key, bytes);
    return { kind: 'file', key, size: bytes.length, etag: info.etag, mtime: info.lastModified };
  };
  const open = (file: FileNode) => new FileReader(file, held, { bucket: 'bucket', blockSize: BLOCK, readaheadMax: config.memory.readaheadMax });
  return { config, pool: stack.pool, held, put, open };
}

/** Reads the file through reader in READ-sized pieces at the offsets given, checking every byte. */
async function readAll(reader: FileReader, bytes: Buffer, offsets: Iterable<number>): Promise<void> {
  for (const at of offsets) {
    const slices = await reader.slices(READ, at);
    assert.ok(Buffer.concat(slices.buffers).equals(bytes.subarray(at, at + READ)), `bytes at ${at}`);
    slices.release();
  }
}

function* sequential(size: number): Generator<number> {
  for (let at = 0; at < size; at += READ) yield at;
}

function* scattered(size: number, seed: number, count: number): Generator<number> {
  for (let i = 0; i < count; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    yield Math.floor((seed / 2 ** 31) * (size / READ)) * READ;
  }
}

/** Four readers of one file at once, each READ-sized read awaited before the next, as FUSE's reads arrive. */
async function fourReaders(open: () => FileReader, bytes: Buffer, offsets: (reader: number) => Iterable<number>): Promise<void> {
  await Promise.all(
    [0, 1, 2, 3].map(async (i) => {
      const reader = open();
      try {
        await readAll(reader, bytes, offsets(i));
      } finally {
        reader.close();
      }
    }),
  );
}

test('ram_cache shared out: readahead, disk writes and the RAM tier fill the budget and never pass it', async (t) => {
  const { config, pool } = await mount(t);
  const { memory } = config;
  assert.equal(memory.budgetBytes, BUDGET);
  assert.equal(memory.readaheadBytes + (memory.pendingWrites + memory.ramCompressing) * BLOCK + memory.ramTierBytes, BUDGET);
  assert.ok(memory.ramTierBytes > 0 && memory.ramCompressing > 0);
  assert.equal(pool.capacityBytes, BUDGET);
});

test('four readers of a dataset four times the budget, cold, warm and at random: block memory stays within ram_cache', async (t) => {
  const { pool, put, open, held } = await mount(t);
  const bytes = blockBytes('random', 'big', 4 * BUDGET + 1000);
  const file = put('big', bytes);
  // Cold, then again from the disk tier (the second request lets blocks into RAM), then from RAM and disk.
  for (let epoch = 0; epoch < 3; epoch++) await fourReaders(() => open(file), bytes, () => sequential(bytes.length));
  await fourReaders(() => open(file), bytes, (i) => scattered(bytes.length, i + 1, 300));
  assert.equal(held.inUse, 0, 'closed readers hold nothing');
  t.diagnostic(`block memory peaked at ${pool.peakBytes / BLOCK} of ${BUDGET / BLOCK} blocks`);
  assert.ok(pool.peakBytes > BUDGET / 2, `the budget was hardly used (${pool.peakBytes} bytes): the test shows nothing`);
  assert.ok(pool.peakBytes <= BUDGET, `block memory peaked at ${pool.peakBytes / BLOCK} blocks, budget ${BUDGET / BLOCK}`);
});

test('compressible data and small files: lz4 blocks, copies and decompressed blocks count in the budget and stay within it', async (t) => {
  const { pool, put, open } = await mount(t);
  const text = blockBytes('compressible', 'text', 2 * BUDGET);
  const textFile = put('text', text);
  for (let epoch = 0; epoch < 3; epoch++) await fourReaders(() => open(textFile), text, () => sequential(text.length));
  const small = Array.from({ length: 64 }, (_, i) => blockBytes('random', `small-${i}`, 10_000));
  const files = small.map((bytes, i) => put(`small/${i}`, bytes));
  for (let round = 0; round < 3; round++) {
    await Promise.all(
      [0, 1, 2, 3].map(async (worker) => {
        for (let i = worker; i < files.length; i += 4) {
          const reader = open(files[i]);
          await readAll(reader, small[i], [0]);
          reader.close();
        }
      }),
    );
  }
  t.diagnostic(`block memory peaked at ${pool.peakBytes / BLOCK} of ${BUDGET / BLOCK} blocks`);
  assert.ok(pool.peakBytes <= BUDGET, `block memory peaked at ${pool.peakBytes / BLOCK} blocks, budget ${BUDGET / BLOCK}`);
});
