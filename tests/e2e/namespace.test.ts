// How object keys become a file tree, through a real FUSE mount over s3rver:
// folders shadowing files, keys that cannot be file names, prefix mounts,
// the metadata TTL, and `find` over a tree.
//
// (The s3rver listing fix, a folder holding only sub-folders, is covered by smoke.test.ts.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { FaultyProxy, startFaultyProxy } from '../support/faulty-proxy';
import { Mounted, mountBucket } from '../support/mount-fixture';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { freePort, isAlive, putObject, putObjects, scrapeMetric, sleep } from '../support/e2e-helpers';

const exec = promisify(execFile);
const BUCKET = 'namespace';

const text = (s: string) => Buffer.from(s);
const sorted = (names: Iterable<string>) => [...names].sort();
const errorCode = (promise: Promise<unknown>) => promise.then(() => 'no error', (err: NodeJS.ErrnoException) => err.code);

/** Keys S3 accepts but s3rver cannot store (it keeps objects as files): injected into listings by the proxy. */
const LONG_ASCII = 'a'.repeat(300);
const LONG_UTF8 = '日'.repeat(86); // 86 characters, 258 bytes: too long although < 255 characters
const AT_LIMIT = 'é'.repeat(127) + 'z'; // 255 bytes exactly: a valid name
const UNNAMEABLE = [
  'mixed/bad//double',
  'mixed/x/./y',
  'mixed/x/../y',
  'mixed/.',
  'mixed/..',
  `mixed/${LONG_ASCII}`,
  `mixed/${LONG_ASCII}/nested.txt`,
  `mixed/${LONG_UTF8}`,
];

// The find tree: 20 folders (15 top-level, 5 nested), 25 files each.
const TREE_FOLDERS = [
  ...Array.from({ length: 15 }, (_, i) => `tree/f${String(i).padStart(2, '0')}`),
  ...Array.from({ length: 5 }, (_, i) => `tree/f00/sub${i}`),
];
const TREE_FILES = TREE_FOLDERS.flatMap((folder) => Array.from({ length: 25 }, (_, i) => `${folder}/file ${i}.bin`));

let s3: S3Fixture;
let proxy: FaultyProxy;
let mount: Mounted;
let metricsPort: number;

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  const objects: Array<[string, Buffer]> = [
    // A key that is also a folder: "a" and "a/b".
    ['shadow1/a', text('I am the shadowed object')],
    ['shadow1/a/b', text('inside a')],
    ['shadow1/c.txt', text('c')],
    ['shadow2/a', text('I am the shadowed object too')],
    ['shadow2/a/b', text('inside a, 2')],
    ['shadow2/a/deeper/d', text('d')],
    // Real objects beside the unnameable keys.
    ['mixed/good1.txt', text('good one')],
    ['mixed/good2.txt', text('good two')],
    ['mixed/x/ok.txt', text('ok')],
    // For the prefix mount.
    ['some/prefix/', text('')], // a marker object for the prefix itself
    ['some/prefix/a.txt', text('under the prefix')],
    ['some/prefix/sub/b.txt', text('deeper under the prefix')],
    ['some/prefixed.txt', text('a sibling that shares the string prefix')],
    ['some/prefix-sibling/c.txt', text('another sibling')],
    ['some/other.txt', text('other')],
    ['top.txt', text('top')],
    ['ttl/existing.txt', text('existing')],
    ['ttl-default/existing.txt', text('existing')],
    ...TREE_FILES.map((key): [string, Buffer] => [key, text(key)]),
  ];
  await putObjects(s3, BUCKET, objects, 16);
  // Through the proxy (no faults) so that listings can carry keys s3rver cannot hold.
  proxy = await startFaultyProxy(s3.endpoint);
  proxy.setExtraKeys(BUCKET, [...UNNAMEABLE.map((key) => ({ key, size: 0 })), { key: `mixed/${AT_LIMIT}`, size: 0 }]);
  metricsPort = await freePort();
  mount = await mountBucket(`s3://${BUCKET}`, s3.env, ['--endpoint', proxy.endpoint, '--metrics', `127.0.0.1:${metricsPort}`]);
});

after(async () => {
  await mount?.unmount().catch((err) => console.error('unmount:', err));
  await proxy?.stop();
  await s3?.stop();
});

describe('a key that is also a folder ("a" and "a/b")', () => {
  test('looked up directly (no listing of the parent first): a is the folder, with b inside', async () => {
    const a = join(mount.mountpoint, 'shadow1/a');
    assert.ok((await stat(a)).isDirectory(), 'shadow1/a is a directory');
    assert.deepEqual(await readdir(a), ['b']);
    assert.equal(await readFile(join(a, 'b'), 'utf8'), 'inside a');
    assert.deepEqual(sorted(await readdir(join(mount.mountpoint, 'shadow1'))), ['a', 'c.txt']);
  });

  test('listed first: the parent shows a once, as a folder', async () => {
    const parent = join(mount.mountpoint, 'shadow2');
    assert.deepEqual(await readdir(parent), ['a']);
    const a = join(parent, 'a');
    assert.ok((await stat(a)).isDirectory(), 'shadow2/a is a directory');
    assert.deepEqual(sorted(await readdir(a)), ['b', 'deeper']);
    assert.equal(await readFile(join(a, 'b'), 'utf8'), 'inside a, 2');
    assert.equal(await errorCode(readFile(a)), 'EISDIR');
  });
});

describe('keys that cannot be file names', () => {
  test('are skipped; the rest of the folder lists and reads; the daemon lives on', async () => {
    const mixed = join(mount.mountpoint, 'mixed');
    const listed = await readdir(mixed);
    // "bad//double" rolls up to a prefix "bad/" (as S3 lists it); its only child has an empty name.
    // Showing "bad" as an empty folder or not at all are both fine.
    if (listed.includes('bad')) {
      assert.ok((await stat(join(mixed, 'bad'))).isDirectory(), 'bad, when shown, is a folder');
      assert.deepEqual(await readdir(join(mixed, 'bad')), [], 'bad, when shown, is empty');
    }
    assert.deepEqual(sorted(listed.filter((n) => n !== 'bad')), sorted(['good1.txt', 'good2.txt', 'x', AT_LIMIT]));
    assert.deepEqual(await readdir(join(mixed, 'x')), ['ok.txt'], 'x lists without "." and ".."');
    assert.equal(await readFile(join(mixed, 'good1.txt'), 'utf8'), 'good one');
    assert.equal(await readFile(join(mixed, 'x/ok.txt'), 'utf8'), 'ok');
    // A name of exactly 255 bytes is a valid file name (here an empty object, so no GET is needed).
    assert.equal((await stat(join(mixed, AT_LIMIT))).size, 0);
    assert.equal((await readFile(join(mixed, AT_LIMIT))).length, 0);
    assert.ok(isAlive(mount.pid), 'daemon still running');
    assert.deepEqual(sorted(await readdir(mount.mountpoint)), sorted(['mixed', 'shadow1', 'shadow2', 'some', 'top.txt', 'tree', 'ttl', 'ttl-default']));
    // ".", "..", the 300-byte object, the 300-byte folder, the 258-byte name: each counted as skipped.
    assert.ok((await scrapeMetric(metricsPort, 'cachalot_skipped_keys_total')) >= 5, 'skipped keys are counted');
  });
});

describe('a mount of a prefix', () => {
  for (const source of [`s3://${BUCKET}/some/prefix`, `s3://${BUCKET}/some/prefix/`]) {
    test(`${source} shows only what is under the prefix`, async () => {
      const m = await mountBucket(source, s3.env);
      try {
        assert.deepEqual(sorted(await readdir(m.mountpoint)), ['a.txt', 'sub']);
        assert.deepEqual(await readdir(join(m.mountpoint, 'sub')), ['b.txt']);
        assert.equal(await readFile(join(m.mountpoint, 'a.txt'), 'utf8'), 'under the prefix');
        assert.equal(await readFile(join(m.mountpoint, 'sub/b.txt'), 'utf8'), 'deeper under the prefix');
        for (const outside of ['prefixed.txt', 'ed.txt', 'prefix-sibling', 'other.txt', 'top.txt', 'some', 'prefix']) {
          assert.equal(await errorCode(stat(join(m.mountpoint, outside))), 'ENOENT', `${outside} is not visible`);
        }
      } finally {
        await m.unmount();
      }
    });
  }
});

describe('metadata TTL', () => {
  test('with --metadata-ttl 1s a new object appears once the TTL has passed', async () => {
    const m = await mountBucket(`s3://${BUCKET}`, s3.env, ['--metadata-ttl', '1s']);
    try {
      const dir = join(m.mountpoint, 'ttl');
      assert.deepEqual(await readdir(dir), ['existing.txt']);
      await putObject(s3, BUCKET, 'ttl/new.txt', text('new'));
      const putAt = Date.now();
      let listed: string[] = [];
      while (Date.now() - putAt < 5000) {
        listed = await readdir(dir);
        if (listed.includes('new.txt')) break;
        await sleep(100);
      }
      assert.deepEqual(sorted(listed), ['existing.txt', 'new.txt'], 'new.txt listed within 5 s of the put (TTL 1 s)');
      assert.equal(await readFile(join(dir, 'new.txt'), 'utf8'), 'new');
    } finally {
      await m.unmount();
    }
  });

  test('with the default TTL a new object does not appear at once (the listing is cached)', async () => {
    const dir = join(mount.mountpoint, 'ttl-default');
    assert.deepEqual(await readdir(dir), ['existing.txt']);
    await putObject(s3, BUCKET, 'ttl-default/new.txt', text('new'));
    assert.deepEqual(await readdir(dir), ['existing.txt'], 'listing served from the cache');
    await sleep(1500);
    assert.deepEqual(await readdir(dir), ['existing.txt'], 'still cached 1.5 s later (default TTL is 60 s)');
    assert.equal(await errorCode(stat(join(dir, 'new.txt'))), 'ENOENT', 'a lookup in a cached listing is answered from it');
  });
});

describe('find', () => {
  test(`find over ${TREE_FILES.length} files in ${TREE_FOLDERS.length} folders returns every path`, async () => {
    const root = join(mount.mountpoint, 'tree');
    const run = async (type: 'f' | 'd') => {
      const { stdout } = await exec('find', [root, '-type', type, '-print0'], { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 });
      return stdout.split('\0').filter((p) => p !== '').map((p) => p.slice(mount.mountpoint.length + 1));
    };
    const files = await run('f');
    assert.equal(files.length, TREE_FILES.length, 'file count');
    assert.deepEqual(sorted(files), sorted(TREE_FILES));
    const dirs = await run('d');
    assert.deepEqual(sorted(dirs), sorted(['tree', ...TREE_FOLDERS]));
  });
});
