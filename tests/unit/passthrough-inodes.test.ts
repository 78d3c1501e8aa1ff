// The kernel's rules for passthrough opens, kept by PassthroughInodes: one
// backing file per inode while any open uses it, no passthrough while an
// open goes through the daemon, ESTALE for a newer version, and passthrough
// off once the kernel refuses a backing file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PassthroughInodes } from '../../src/fuse/passthrough-inodes';
import type { Attr } from '../../src/vfs/types';

const attr = (size: number, mtimeMs = 1000): Attr => ({ kind: 'file', size, mtime: new Date(mtimeMs), mode: 0o644, uid: 0, gid: 0 });

function setup(refuse?: NodeJS.ErrnoException) {
  const opened: number[] = [];
  const closed: number[] = [];
  let next = 1;
  const inodes = new PassthroughInodes({
    open: (fd) => {
      if (refuse) throw refuse;
      opened.push(fd);
      return next++;
    },
    close: (id) => closed.push(id),
  });
  inodes.enable(true);
  const refusals: unknown[] = [];
  return { inodes, opened, closed, refusals, onRefused: (err: unknown) => refusals.push(err) };
}

test('opens of one inode share one backing id, closed after the last release', () => {
  const { inodes, opened, closed, onRefused } = setup();
  assert.deepEqual(inodes.open(1, 7, attr(10), 30, onRefused), { passthrough: true, backingId: 1 });
  // A second open needs no file of its own: the inode is backed already.
  assert.deepEqual(inodes.open(2, 7, attr(10), undefined, onRefused), { passthrough: true, backingId: 1 });
  assert.deepEqual(opened, [30]);
  assert.deepEqual(inodes.attrOf(7), attr(10));
  inodes.released(1);
  assert.deepEqual(closed, []);
  inodes.released(2);
  assert.deepEqual(closed, [1]);
  assert.equal(inodes.attrOf(7), undefined);
});

test('no passthrough while an open goes through the daemon, and through the daemon without a local file', () => {
  const { inodes, onRefused } = setup();
  assert.deepEqual(inodes.open(1, 7, attr(10), undefined, onRefused), { passthrough: false });
  assert.equal(inodes.wants(7), false, 'the VFS need not look for the file');
  assert.deepEqual(inodes.open(2, 7, attr(10), 30, onRefused), { passthrough: false }, 'the kernel would refuse it (ETXTBSY)');
  inodes.released(1);
  inodes.released(2);
  assert.equal(inodes.wants(7), true);
  assert.deepEqual(inodes.open(3, 7, attr(10), 30, onRefused), { passthrough: true, backingId: 1 });
});

test('a newer version of a backed inode is stale; the old attributes stay with the inode', () => {
  const { inodes, onRefused } = setup();
  inodes.open(1, 7, attr(10), 30, onRefused);
  assert.equal(inodes.isStale(7, attr(10)), false);
  assert.equal(inodes.isStale(7, attr(11, 2000)), true);
  assert.deepEqual(inodes.open(2, 7, attr(11, 2000), 31, onRefused), { stale: true });
  assert.deepEqual(inodes.attrOf(7), attr(10));
});

test('a refused backing file turns passthrough off, with its reason, and the open goes through the daemon', () => {
  const refusal = Object.assign(new Error('backing open: Operation not permitted'), { code: 'EPERM' });
  const { inodes, refusals, onRefused } = setup(refusal);
  assert.deepEqual(inodes.open(1, 7, attr(10), 30, onRefused), { passthrough: false });
  assert.deepEqual(refusals, [refusal]);
  assert.equal(inodes.wants(8), false, 'off for other inodes too');
});
