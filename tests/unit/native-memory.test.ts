// native/io's page-aligned buffers: O_DIRECT takes them (it refuses memory
// off a page boundary with EINVAL, as Node's own large Buffers are).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDirect, supportsDirectIo, writeDirect } from '../../src/block/direct-io';
import { DIRECT_IO_ALIGNMENT, pageAlignedBuffer } from '../../src/block/native-memory';

test('pageAlignedBuffer memory goes through O_DIRECT both ways; a size below 1 is refused, not a crash', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-memory-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  if (!(await supportsDirectIo(dir))) return t.skip(`${dir}: no O_DIRECT on this filesystem`);
  const size = 3 * DIRECT_IO_ALIGNMENT;
  const block = pageAlignedBuffer(size);
  assert.equal(block.length, size);
  block.fill(7, 0, 5000);
  await writeDirect(join(dir, 'block'), block, 5000);
  const back = pageAlignedBuffer(size).fill(0);
  await readDirect(join(dir, 'block'), back, 5000);
  assert.ok(back.subarray(0, 5000).equals(block.subarray(0, 5000)));
  // Node's own memory is 16 bytes past a page: the check has teeth.
  await assert.rejects(writeDirect(join(dir, 'node'), Buffer.alloc(size + 16).subarray(16), 5000), /EINVAL/);
  assert.throws(() => pageAlignedBuffer(0), /alignedBuffer/);
});
