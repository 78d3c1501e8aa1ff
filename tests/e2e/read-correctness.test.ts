// Read correctness through a real FUSE mount over a real s3rver: every byte
// read through the mount is compared with the bytes put into S3.
//
// Randomized reads use a seeded PRNG; the seed is printed (TAP diagnostic and
// failure message). Rerun one with CACHALOT_TEST_SEED=<seed>.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Mounted, mountBucket } from '../support/mount-fixture';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { MiB, assertSameBytes, hash32, makeRng, patternBytes, putObjects, testSeed } from '../support/e2e-helpers';

const BUCKET = 'read-correctness';
const BLOCK = MiB;
const MOUNT_ARGS = ['--block-size', '1MiB'];

/** Every object put into S3, by key. */
const objects = new Map<string, Buffer>();
const put = (key: string, bytes: Buffer) => objects.set(key, bytes);
const pattern = (key: string, size: number) => put(key, patternBytes(size, hash32(key)));

// Sizes around the block size, and a few large files.
const SIZED: Record<string, number> = {
  'sizes/empty': 0,
  'sizes/one': 1,
  'sizes/odd-4097': 4097,
  'sizes/block-minus-1': BLOCK - 1,
  'sizes/block': BLOCK,
  'sizes/block-plus-1': BLOCK + 1,
  'sizes/two-blocks-plus-1': 2 * BLOCK + 1,
  'large/twenty-mib-plus-13.bin': 20 * MiB + 13,
  'large/thirty-three-mib-minus-5.bin': 33 * MiB - 5,
};
for (const [key, size] of Object.entries(SIZED)) pattern(key, size);
const CONCURRENT_KEY = 'concurrent/shared.bin';
pattern(CONCURRENT_KEY, 24 * MiB + 5);

// Deep nesting: 12 levels, with files on the way down.
const DEEP = Array.from({ length: 12 }, (_, i) => `l${i + 1}`);
pattern(`deep/${DEEP.join('/')}/bottom.bin`, BLOCK + 7);
pattern(`deep/${DEEP.slice(0, 8).join('/')}/leaf-at-8.bin`, 3000);
pattern(`deep/${DEEP.slice(0, 4).join('/')}/mid.txt`, 17);

// Names a POSIX file name may hold, verbatim: unicode (NFC and NFD differ), spaces, punctuation.
const NAMES = [
  'naïve café.txt',
  '日本語のファイル名.bin',
  'emoji 🐳 whale.txt',
  ' leading space',
  'trailing space ',
  'double  space',
  'e\u0301 (NFD)',
  '\u00e9 (NFC)',
  "special !#$&'()+,;=@[]^`{}~.txt",
  '100%25 literal percent',
  'a+b plus',
  'back\\slash',
  'question?mark*star',
  'quote"double',
  'tab\tname',
  '.hidden',
  '...dots',
  'Ωmega/ζήτα.txt',
  'dir with spaces/file with spaces.txt',
];
for (const name of NAMES) pattern(`names/${name}`, 100 + (hash32(name) % 5000));

// 3,000+ files in one folder, some with unicode and spaces.
const MANY = 3100;
const manyNames: string[] = [];
for (let i = 0; i < MANY; i++) {
  const n = String(i).padStart(5, '0');
  const name = i % 100 === 0 ? `ünïcødé ${n}.txt` : i % 7 === 0 ? `with space ${n}.dat` : `file-${n}`;
  manyNames.push(name);
  put(`many/${name}`, Buffer.from(`${i}:${name}\n`));
}

// Directory markers: "dir/" keys with empty bodies.
put('markers/empty-dir/', Buffer.alloc(0));
put('markers/full-dir/', Buffer.alloc(0));
pattern('markers/full-dir/inside.txt', 10);
put('top-level-empty/', Buffer.alloc(0));

/** Folder path ('' for the root) -> names it must list, derived from the keys as S3 rolls them up. */
function expectedTree(keys: Iterable<string>): Map<string, Set<string>> {
  const tree = new Map<string, Set<string>>([['', new Set()]]);
  for (const key of keys) {
    const parts = key.split('/');
    let dir = '';
    for (let i = 0; i < parts.length - 1; i++) {
      tree.get(dir)!.add(parts[i]);
      dir = dir ? `${dir}/${parts[i]}` : parts[i];
      if (!tree.has(dir)) tree.set(dir, new Set());
    }
    const last = parts[parts.length - 1];
    if (last !== '') tree.get(dir)!.add(last);
  }
  return tree;
}

const sorted = (names: Iterable<string>) => [...names].sort();

async function mapLimit<T>(items: T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await run(items[next++]);
    }),
  );
}

let s3: S3Fixture;
/** Listing and whole-file reads. */
let mountA: Mounted;
/** A second, cold mount (own page cache) for positional and concurrent reads. */
let mountB: Mounted;

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  await putObjects(s3, BUCKET, objects.entries(), 16);
  mountA = await mountBucket(`s3://${BUCKET}`, s3.env, MOUNT_ARGS);
  mountB = await mountBucket(`s3://${BUCKET}`, s3.env, MOUNT_ARGS);
});

after(async () => {
  await mountA?.unmount().catch((err) => console.error('unmount A:', err));
  await mountB?.unmount().catch((err) => console.error('unmount B:', err));
  await s3?.stop();
});

describe('listing', () => {
  test('every folder lists exactly the names its keys imply (deep nesting, unicode, spaces, markers)', async () => {
    const tree = expectedTree(objects.keys());
    assert.ok(tree.has(DEEP.reduce((p, l) => `${p}/${l}`, 'deep')), 'the seeded tree is 12+ levels deep');
    for (const [dir, names] of tree) {
      const listed = await readdir(join(mountA.mountpoint, dir));
      assert.deepEqual(sorted(listed), sorted(names), `readdir of "${dir || '/'}"`);
    }
  });

  test('stat agrees with S3: files have their sizes, folders are directories', async () => {
    const tree = expectedTree(objects.keys());
    for (const dir of tree.keys()) {
      const st = await stat(join(mountA.mountpoint, dir));
      assert.ok(st.isDirectory(), `"${dir || '/'}" is a directory`);
    }
    for (const [key, bytes] of objects) {
      if (key.endsWith('/') || key.startsWith('many/')) continue;
      const st = await stat(join(mountA.mountpoint, key));
      assert.ok(st.isFile(), `${key} is a regular file`);
      assert.equal(st.size, bytes.length, `size of ${key}`);
    }
  });

  test(`${MANY} files in one folder: readdir returns every name, exactly`, async () => {
    const listed = await readdir(join(mountA.mountpoint, 'many'));
    assert.equal(listed.length, MANY, 'entry count');
    assert.equal(new Set(listed).size, MANY, 'no duplicates');
    assert.deepEqual(sorted(listed), sorted(manyNames));
  });

  test('a directory marker object ("dir/", empty body) shows as an empty directory', async () => {
    for (const dir of ['markers/empty-dir', 'top-level-empty']) {
      const st = await stat(join(mountA.mountpoint, dir));
      assert.ok(st.isDirectory(), `${dir} is a directory`);
      assert.deepEqual(await readdir(join(mountA.mountpoint, dir)), [], `${dir} is empty`);
    }
    // A marker beside real children adds no entry of its own.
    assert.deepEqual(await readdir(join(mountA.mountpoint, 'markers/full-dir')), ['inside.txt']);
    assert.deepEqual(sorted(await readdir(join(mountA.mountpoint, 'markers'))), ['empty-dir', 'full-dir']);
  });
});

describe('whole-file reads', () => {
  test('every file reads back byte-identical', async () => {
    const keys = [...objects.keys()].filter((k) => !k.endsWith('/') && !k.startsWith('many/') && k !== CONCURRENT_KEY);
    await mapLimit(keys, 4, async (key) => {
      const bytes = await readFile(join(mountA.mountpoint, key));
      assertSameBytes(bytes, objects.get(key)!, key);
    });
  });

  test(`all ${MANY} files of the big folder read back byte-identical`, async () => {
    await mapLimit(manyNames, 8, async (name) => {
      const key = `many/${name}`;
      assertSameBytes(await readFile(join(mountA.mountpoint, key)), objects.get(key)!, key);
    });
  });
});

describe('positional reads (cold mount)', () => {
  test('random (offset, length) reads match the source, across block boundaries and past EOF', async (t) => {
    const seed = testSeed();
    t.diagnostic(`seed ${seed} (rerun with CACHALOT_TEST_SEED=${seed})`);
    const rng = makeRng(seed);
    const pool = Object.keys(SIZED);
    const handles = new Map(await Promise.all(pool.map(async (key) => [key, await open(join(mountB.mountpoint, key))] as const)));
    let step = '';
    try {
      const check = async (key: string, position: number, length: number, fresh: boolean) => {
        const source = objects.get(key)!;
        step = `${key} @${position} +${length}${fresh ? ' (fresh open)' : ''}`;
        const buffer = Buffer.alloc(length, 0xee);
        const handle = fresh ? await open(join(mountB.mountpoint, key)) : handles.get(key)!;
        let bytesRead: number;
        try {
          ({ bytesRead } = await handle.read(buffer, 0, length, position));
        } finally {
          if (fresh) await handle.close();
        }
        const expected = source.subarray(Math.min(position, source.length), Math.min(position + length, source.length));
        assert.equal(bytesRead, expected.length, `${step}: bytes read`);
        assertSameBytes(buffer.subarray(0, bytesRead), expected, step);
      };

      // Edge cases first, deterministic: block boundaries, the last byte, EOF and beyond.
      for (const key of pool) {
        const size = objects.get(key)!.length;
        const edges: Array<[number, number]> = [
          [0, 0], [0, 1], [size - 1, 1], [size - 1, 10], [size, 1], [size, 4096], [size + 1, 10], [size + 10 * BLOCK, 100],
          [BLOCK - 1, 1], [BLOCK - 1, 2], [BLOCK, 1], [BLOCK + 1, 1], [BLOCK - 4096, 8192], [BLOCK - 1, BLOCK + 2], [2 * BLOCK - 7, 14],
        ];
        for (const [position, length] of edges) if (position >= 0) await check(key, position, length, false);
      }

      // Then random ones: near block boundaries, near EOF, anywhere.
      const OPS = 300;
      for (let i = 0; i < OPS; i++) {
        const key = rng.pick(pool);
        const size = objects.get(key)!.length;
        const blocks = Math.ceil(size / BLOCK);
        const kind = rng.next();
        let position: number;
        if (kind < 0.4) position = Math.max(0, rng.between(0, blocks) * BLOCK + rng.between(-300, 300));
        else if (kind < 0.55) position = Math.max(0, size + rng.between(-3000, 5000));
        else position = rng.int(size + 1000);
        const lengthKind = rng.next();
        const length = lengthKind < 0.3 ? rng.between(0, 4096) : lengthKind < 0.7 ? rng.between(1, 2 * BLOCK) : rng.between(BLOCK, 3 * BLOCK + 100);
        await check(key, position, length, i % 25 === 24);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      assert.fail(`${message}\n  at ${step}; seed ${seed}: rerun with CACHALOT_TEST_SEED=${seed}`);
    } finally {
      for (const handle of handles.values()) await handle.close().catch(() => {});
    }
  });

  test('concurrent readers of one file get the same bytes', async (t) => {
    const seed = testSeed();
    t.diagnostic(`seed ${seed} (rerun with CACHALOT_TEST_SEED=${seed})`);
    const rng = makeRng(seed);
    const source = objects.get(CONCURRENT_KEY)!;
    const path = join(mountB.mountpoint, CONCURRENT_KEY);

    /** Reads the file in chunks of chunkSize, in the given chunk order, into a fresh buffer. */
    const readChunks = async (chunkSize: number, order: 'forward' | 'backward' | 'shuffled'): Promise<Buffer> => {
      const out = Buffer.alloc(source.length, 0xee);
      const starts = Array.from({ length: Math.ceil(source.length / chunkSize) }, (_, i) => i * chunkSize);
      if (order === 'backward') starts.reverse();
      if (order === 'shuffled') rng.shuffle(starts);
      const handle = await open(path);
      try {
        for (const start of starts) {
          const length = Math.min(chunkSize, source.length - start);
          const { bytesRead } = await handle.read(out, start, length, start);
          assert.equal(bytesRead, length, `${order} ${chunkSize}-byte read at ${start}`);
        }
      } finally {
        await handle.close();
      }
      return out;
    };
    const readStream = (highWaterMark: number) =>
      new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        createReadStream(path, { highWaterMark })
          .on('data', (c) => chunks.push(c as Buffer))
          .on('end', () => resolve(Buffer.concat(chunks)))
          .on('error', reject);
      });

    const readers: Array<[string, () => Promise<Buffer>]> = [
      ['readFile #1', () => readFile(path)],
      ['readFile #2', () => readFile(path)],
      ['stream 64KiB', () => readStream(64 * 1024)],
      ['stream 1MiB+1', () => readStream(MiB + 1)],
      ['forward 1MiB', () => readChunks(MiB, 'forward')],
      ['forward 333,333 B', () => readChunks(333_333, 'forward')],
      ['backward 1MiB-1', () => readChunks(MiB - 1, 'backward')],
      ['shuffled 256KiB', () => readChunks(256 * 1024, 'shuffled')],
    ];
    const results = await Promise.all(readers.map(([, read]) => read()));
    results.forEach((bytes, i) => assertSameBytes(bytes, source, `${readers[i][0]} (seed ${seed})`));
  });
});
