// The disk tier's descriptors of whole objects' files: reused between opens,
// closed once forgotten and unused, bounded.
import assert from 'node:assert/strict';
import { fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ObjectDescriptors } from '../../src/block/object-descriptors';

function setup(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-descriptors-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const opened: string[] = [];
  const open = (key: string) => {
    opened.push(key);
    writeFileSync(join(dir, key), key);
    return openSync(join(dir, key), 'r');
  };
  return { opened, open };
}

const isOpen = (fd: number) => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

test('a descriptor is opened once and reused; forgotten in use, it closes at its last release', (t) => {
  const { opened, open } = setup(t);
  const descriptors = new ObjectDescriptors(4, open);
  const a = descriptors.acquire('a', 1)!;
  const again = descriptors.acquire('a', 1)!;
  assert.equal(again.fd, a.fd);
  assert.deepEqual(opened, ['a']);
  descriptors.release('a', a);
  descriptors.release('a', again);
  assert.ok(isOpen(a.fd), 'kept open, unused, for the next open');

  const held = descriptors.acquire('a', 1)!;
  descriptors.forget('a');
  assert.ok(isOpen(held.fd), 'still in use');
  const fresh = descriptors.acquire('a', 1)!;
  assert.deepEqual(opened, ['a', 'a'], 'a forgotten descriptor is not handed out again');
  descriptors.release('a', held);
  assert.ok(!isOpen(held.fd) || held.fd === fresh.fd, 'closed at its last release');
  descriptors.release('a', fresh);
  descriptors.closeAll();
  assert.ok(!isOpen(fresh.fd));
});

test('past the capacity, the least recently used unused descriptors close; a file that cannot be opened is undefined', (t) => {
  const { open } = setup(t);
  const descriptors = new ObjectDescriptors(2, open);
  const fds = ['a', 'b', 'c'].map((key) => {
    const d = descriptors.acquire(key, 1)!;
    descriptors.release(key, d);
    return d.fd;
  });
  assert.ok(!isOpen(fds[0]!) || fds.slice(1).includes(fds[0]!), 'the oldest went');
  assert.ok(isOpen(fds[2]!));
  assert.equal(new ObjectDescriptors(2, () => undefined).acquire('x', 1), undefined);
  descriptors.closeAll();
});
