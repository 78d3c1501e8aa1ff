import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { Mounted, mountBucket } from '../support/mount-fixture';

let s3: S3Fixture;
let mount: Mounted;

before(async () => {
  s3 = await startS3Fixture(['smoke']);
  await s3.put('smoke', 'train/class_a/x.jpg', 'hello');
  await s3.put('smoke', 'top.txt', 'top');
  mount = await mountBucket('s3://smoke', s3.env);
});

after(async () => {
  await mount?.unmount();
  await s3?.stop();
});

test('a folder holding only sub-folders is listed (s3rver patched)', async () => {
  assert.deepEqual((await readdir(mount.mountpoint)).sort(), ['top.txt', 'train']);
  assert.deepEqual(await readdir(join(mount.mountpoint, 'train')), ['class_a']);
  assert.equal(await readFile(join(mount.mountpoint, 'train/class_a/x.jpg'), 'utf8'), 'hello');
});
