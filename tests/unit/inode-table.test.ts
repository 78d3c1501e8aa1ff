import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InodeTable, ROOT_INO } from '../../src/fuse/inode-table';

test('the root is inode 1 and is never forgotten', () => {
  const inodes = new InodeTable();
  assert.equal(inodes.path(ROOT_INO), '/');
  inodes.forget(ROOT_INO, 100);
  assert.equal(inodes.path(ROOT_INO), '/');
});

test('children of the root and of folders get paths joined once', () => {
  const inodes = new InodeTable();
  assert.equal(inodes.childPath(ROOT_INO, 'a'), '/a');
  const a = inodes.ref('/a');
  assert.equal(inodes.childPath(a, 'b c'), '/a/b c');
  assert.equal(inodes.childPath(12345, 'x'), undefined);
});

test('a number lives while the kernel holds lookups on it, then is dropped', () => {
  const inodes = new InodeTable();
  const first = inodes.ref('/f');
  assert.equal(inodes.ref('/f'), first, 'a second lookup of a path gets the same number');
  inodes.forget(first, 1);
  assert.equal(inodes.path(first), '/f', 'one lookup is still held');
  inodes.forget(first, 1);
  assert.equal(inodes.path(first), undefined);
  assert.equal(inodes.known('/f'), undefined);
  const again = inodes.ref('/f');
  assert.notEqual(again, first, 'a forgotten number is not handed out again for a new lookup');
  assert.equal(inodes.size, 2);
});

test('forget of more lookups than held drops the inode, and an unknown one is ignored', () => {
  const inodes = new InodeTable();
  const ino = inodes.ref('/g');
  inodes.forget(ino, 5);
  assert.equal(inodes.path(ino), undefined);
  inodes.forget(999, 1);
  assert.equal(inodes.size, 1);
});

test('keep_cache only when the file is opened again at the version it was last opened at', () => {
  const inodes = new InodeTable();
  const ino = inodes.ref('/data');
  assert.equal(inodes.reopenedAt(ino, '10:1000'), false, 'first open: nothing cached to keep');
  assert.equal(inodes.reopenedAt(ino, '10:1000'), true);
  assert.equal(inodes.reopenedAt(ino, '11:2000'), false, 'changed object: the kernel must drop its pages');
  assert.equal(inodes.reopenedAt(ino, '11:2000'), true);
  assert.equal(inodes.reopenedAt(4242, '1:1'), false);
});
