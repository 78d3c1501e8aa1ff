// Files written through the mount become S3 objects, compared byte for byte
// in S3 (GetObject, not the mount): sizes around the block and part sizes,
// written by cp, dd, Python and tar; the checkpoint idiom (write a temporary
// file, rename it over the final name); folders, unlink, rmdir, rename;
// overwrite rules; what is refused and with which errno; read after write
// served by this node's disk tier; a killed writer and a killed daemon leave
// no object behind. S3 faults on uploads: tests/e2e/write-faults.test.ts.
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { KiB, MiB, assertSameBytes, hash32, isAlive, mountTable, patternBytes, sleep, waitFor } from '../support/e2e-helpers';
import { Mounted, mountBucket, mountForeground, waitForExit } from '../support/mount-fixture';
import { statsOf } from '../support/cache-fixture';

const exec = promisify(execFile);
const BUCKET = 'writes';
const BLOCK = MiB;
/** The first part of a multipart upload (object/multipart-parts.ts): 8 MiB. */
const PART = 8 * MiB;
const ARGS = ['--block-size', '1MiB', '--allow-overwrite'];

let s3: S3Fixture;
let mount: Mounted;
let work: string;

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  mount = await mountBucket(`s3://${BUCKET}`, s3.env, ARGS);
  work = mkdtempSync(join(tmpdir(), 'cachalot-writes-'));
});

after(async () => {
  await mount?.unmount();
  await s3?.stop();
  if (work && !mountTable().some((m) => m.target.startsWith(work))) rmSync(work, { recursive: true, force: true });
});

/** The object's bytes as S3 holds them (undefined: no such key). */
const inS3 = (key: string) => s3.get(BUCKET, key);

async function keys(prefix: string): Promise<string[]> {
  const out = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

async function assertStored(key: string, expected: Buffer, what: string): Promise<void> {
  const actual = await inS3(key);
  assert.ok(actual, `${what}: ${key} is in S3`);
  assertSameBytes(actual, expected, `${what}: ${key} in S3`);
}

describe('new files become S3 objects, byte for byte', () => {
  const sizes = [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, PART - 1, PART, PART + 1, 3 * PART + 12345];
  for (const size of sizes) {
    test(`${size} bytes, written by fs.writeFile (1 MiB writes): in S3 after close, read back through the mount`, async () => {
      const key = `sizes/file-${size}.bin`;
      const bytes = patternBytes(size, hash32(key));
      await mkdir(join(mount.mountpoint, 'sizes'), { recursive: true });
      await writeFile(join(mount.mountpoint, key), bytes);
      await assertStored(key, bytes, 'after close');
      assertSameBytes(await readFile(join(mount.mountpoint, key)), bytes, 'read back');
      assert.equal((await stat(join(mount.mountpoint, key))).size, size);
    });
  }

  test('cp, dd bs=1M and a Python write loop (8 KiB writes)', async () => {
    const source = join(work, 'source.bin');
    const bytes = patternBytes(2 * PART + 777, 11);
    writeFileSync(source, bytes);
    await mkdir(join(mount.mountpoint, 'tools'));
    await exec('cp', [source, join(mount.mountpoint, 'tools/cp.bin')]);
    await exec('dd', [`if=${source}`, `of=${join(mount.mountpoint, 'tools/dd.bin')}`, 'bs=1M', 'status=none']);
    const python = `import sys\nwith open(sys.argv[1], 'rb') as src, open(sys.argv[2], 'wb') as dst:\n    while True:\n        chunk = src.read(8192)\n        if not chunk: break\n        dst.write(chunk)\n`;
    await exec('python3', ['-c', python, source, join(mount.mountpoint, 'tools/python.bin')]);
    for (const name of ['cp', 'dd', 'python']) await assertStored(`tools/${name}.bin`, bytes, name);
  });

  test('tar -x of an archive with nested folders: every file in S3 as in the archive', async () => {
    const tree = join(work, 'tree');
    const files = new Map<string, Buffer>();
    for (const [i, path] of ['a/one.txt', 'a/b/two.bin', 'a/b/c/three.bin', 'd/four.bin', 'five.txt'].entries()) {
      const bytes = patternBytes([10, 300 * KiB, 2 * MiB + 1, 0, 5][i]!, i);
      mkdirSync(join(tree, path, '..'), { recursive: true });
      writeFileSync(join(tree, path), bytes);
      files.set(path, bytes);
    }
    const archive = join(work, 'tree.tar');
    await exec('tar', ['-cf', archive, '-C', tree, '.']);
    await mkdir(join(mount.mountpoint, 'untar'));
    await exec('tar', ['-xf', archive, '-C', join(mount.mountpoint, 'untar')]);
    for (const [path, bytes] of files) await assertStored(`untar/${path}`, bytes, 'tar -x');
  });

  test('the checkpoint idiom: write a temporary file, fsync, rename it over the last checkpoint', async () => {
    const dir = join(mount.mountpoint, 'ckpt');
    await mkdir(dir);
    for (const step of [1, 2]) {
      const bytes = patternBytes(PART + step * 1000, step);
      const handle = await open(join(dir, 'model.pt.tmp'), 'w');
      await handle.write(bytes);
      await handle.sync();
      await handle.close();
      await rename(join(dir, 'model.pt.tmp'), join(dir, 'model.pt'));
      await assertStored('ckpt/model.pt', bytes, `checkpoint ${step}`);
      assert.equal(await inS3('ckpt/model.pt.tmp'), undefined, 'the temporary file is gone');
      assertSameBytes(await readFile(join(dir, 'model.pt')), bytes, `checkpoint ${step} read back`);
    }
    assert.deepEqual(readdirSync(dir).sort(), ['model.pt']);
  });
});

describe('folders, unlink, rmdir, rename', () => {
  test('mkdir makes a marker, rmdir of an empty folder removes it, of a full one is ENOTEMPTY', async () => {
    const dir = join(mount.mountpoint, 'made');
    await mkdir(dir);
    assert.deepEqual(await keys('made/'), ['made/']);
    assert.ok((await stat(dir)).isDirectory());
    await writeFile(join(dir, 'x'), 'x');
    await assert.rejects(rmdir(dir), { code: 'ENOTEMPTY' });
    await unlink(join(dir, 'x'));
    assert.equal(await inS3('made/x'), undefined, 'unlink deletes the object');
    await rmdir(dir);
    assert.deepEqual(await keys('made/'), []);
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  });

  test('rename of a folder is EXDEV; of a file onto a folder EISDIR; of a missing file ENOENT', async () => {
    await mkdir(join(mount.mountpoint, 'r1'));
    await writeFile(join(mount.mountpoint, 'r1/f'), 'f');
    await mkdir(join(mount.mountpoint, 'r2'));
    await assert.rejects(rename(join(mount.mountpoint, 'r1'), join(mount.mountpoint, 'r3')), { code: 'EXDEV' });
    await assert.rejects(rename(join(mount.mountpoint, 'r1/f'), join(mount.mountpoint, 'r2')), { code: 'EISDIR' });
    await assert.rejects(rename(join(mount.mountpoint, 'r1/none'), join(mount.mountpoint, 'r2/none')), { code: 'ENOENT' });
    await rename(join(mount.mountpoint, 'r1/f'), join(mount.mountpoint, 'r2/g'));
    await assertStored('r2/g', Buffer.from('f'), 'moved');
    assert.equal(await inS3('r1/f'), undefined);
  });

  test('chmod, chown and utimes are accepted and change nothing; truncate to another size is ENOTSUP; links are EPERM', async () => {
    const path = join(mount.mountpoint, 'attrs.txt');
    await writeFile(path, 'attrs');
    const before = await stat(path);
    await exec('chmod', ['600', path]);
    await exec('touch', ['-d', '2001-01-01', path]);
    await exec('chown', [`${process.getuid!()}:${process.getgid!()}`, path]);
    assert.equal((await stat(path)).mode, before.mode, 'modes are the mount\'s');
    await assert.rejects(exec('truncate', ['-s', '2', path]), /Operation not supported/);
    await assert.rejects(exec('ln', [path, join(mount.mountpoint, 'hard')]), /Operation not permitted/);
    await assert.rejects(exec('ln', ['-s', path, join(mount.mountpoint, 'soft')]), /Operation not permitted/);
  });
});

describe('overwrite rules and refused writes', () => {
  test('without --allow-overwrite, replacing an object is EPERM and the object is untouched', async () => {
    await s3.put(BUCKET, 'keep/existing.bin', 'old');
    const strict = await mountBucket(`s3://${BUCKET}`, s3.env, ['--block-size', '1MiB']);
    try {
      await assert.rejects(writeFile(join(strict.mountpoint, 'keep/existing.bin'), 'new'), { code: 'EPERM' });
      await writeFile(join(strict.mountpoint, 'keep/other.bin'), 'other');
      await assert.rejects(rename(join(strict.mountpoint, 'keep/other.bin'), join(strict.mountpoint, 'keep/existing.bin')), { code: 'EPERM' });
      await assertStored('keep/existing.bin', Buffer.from('old'), 'untouched');
    } finally {
      await strict.unmount();
    }
  });

  test('with --allow-overwrite, O_TRUNC replaces the object; an append or a write out of order is refused, the object untouched', async () => {
    const path = join(mount.mountpoint, 'replace.bin');
    await writeFile(path, 'first');
    await writeFile(path, 'second version');
    await assertStored('replace.bin', Buffer.from('second version'), 'replaced');
    await assert.rejects(writeFile(path, 'more', { flag: 'a' }), { code: 'ENOTSUP' });
    const handle = await open(path, 'w');
    await handle.write(Buffer.from('abc'), 0, 3, 0);
    await assert.rejects(handle.write(Buffer.from('zzz'), 0, 3, 100), { code: 'ENOTSUP' });
    await assert.rejects(handle.close(), { code: 'ENOTSUP' }, 'close says the file was not stored, and why');
    await assertStored('replace.bin', Buffer.from('second version'), 'untouched by the refused write');
  });

  test('--read-only: mounted ro, every change EROFS', async () => {
    const ro = await mountBucket(`s3://${BUCKET}`, s3.env, ['--read-only']);
    try {
      assert.match(mountTable().find((m) => m.target === ro.mountpoint)!.options, /^ro\b/, '/proc/mounts says ro');
      await assert.rejects(writeFile(join(ro.mountpoint, 'no.txt'), 'x'), { code: 'EROFS' });
      await assert.rejects(mkdir(join(ro.mountpoint, 'nodir')), { code: 'EROFS' });
      await assert.rejects(unlink(join(ro.mountpoint, 'replace.bin')), { code: 'EROFS' });
    } finally {
      await ro.unmount();
    }
  });
});

describe('read after write, stats', () => {
  test('a file just written reads back from this node (no S3 GET); stats count the upload', async () => {
    const bytes = patternBytes(2 * PART + 3, 77);
    const before = await statsOf(mount.mountpoint, s3.env);
    await writeFile(join(mount.mountpoint, 'raw.bin'), bytes);
    const written = await statsOf(mount.mountpoint, s3.env);
    assert.equal(written.writes.bytes - before.writes.bytes, bytes.length);
    assert.equal(written.writes.files.completed - before.writes.files.completed, 1);
    assert.equal(written.writes.partBytes - before.writes.partBytes, bytes.length, 'every byte sent once');
    assertSameBytes(await readFile(join(mount.mountpoint, 'raw.bin')), bytes, 'read after write');
    const read = await statsOf(mount.mountpoint, s3.env);
    assert.equal(read.s3.getRequests - written.s3.getRequests, 0, 'no GET: the disk tier took the written bytes');
  });
});

describe('killed writers and daemons leave no object', () => {
  test('a writer killed with SIGKILL halfway: no object under the key', async () => {
    const path = join(mount.mountpoint, 'killed.bin');
    const script = `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(path)}, 'w'); const b = Buffer.alloc(1 << 20, 7);
for (let i = 0; i < 12; i++) fs.writeSync(fd, b); process.stdout.write('written\\n'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await sleep(500);
    assert.equal(await inS3('killed.bin'), undefined, 'nothing stored');
    const stats = await statsOf(mount.mountpoint, s3.env);
    assert.ok(stats.writes.files.aborted >= 1, `the upload was dropped: ${JSON.stringify(stats.writes)}`);
  });

  test('a daemon killed with SIGKILL while a file is written: no object; the next start aborts its upload', async () => {
    const root = mkdtempSync(join(work, 'daemon-'));
    const mp = join(root, 'mnt');
    const cacheDir = join(root, 'cache');
    mkdirSync(mp);
    const daemon = await mountForeground(`s3://${BUCKET}`, mp, s3.env, ['--cache-dir', cacheDir, ...ARGS]);
    try {
      const handle = await open(join(mp, 'daemon-killed.bin'), 'w');
      await handle.write(patternBytes(2 * PART, 5));
      await waitFor(() => readdirSync(join(cacheDir, 'uploads')).some((n) => n.endsWith('.json')), 10_000);
      daemon.kill('SIGKILL');
      await waitForExit(daemon.pid!, 10_000);
      await handle.close().catch(() => undefined);
    } finally {
      if (isAlive(daemon.pid!)) daemon.kill('SIGKILL');
    }
    assert.equal(await inS3('daemon-killed.bin'), undefined, 'nothing stored');
    assert.ok(readdirSync(join(cacheDir, 'uploads')).some((n) => n.endsWith('.json')), 'the upload was recorded');
    const again = await mountForeground(`s3://${BUCKET}`, mp, s3.env, ['--cache-dir', cacheDir, ...ARGS]);
    try {
      assert.deepEqual(readdirSync(join(cacheDir, 'uploads')), [], 'the next start aborted it and dropped the spool');
      await writeFile(join(mp, 'after.txt'), 'after');
      await assertStored('after.txt', Buffer.from('after'), 'the mount came back');
    } finally {
      again.kill('SIGTERM');
      await waitForExit(again.pid!, 15_000);
    }
    assert.ok(!mountTable().some((m) => m.target === mp), 'unmounted');
  });
});
