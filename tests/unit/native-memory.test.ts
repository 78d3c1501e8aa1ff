// native/io's page-aligned buffers: O_DIRECT takes them (it refuses memory
// off a page boundary with EINVAL, as Node's own large Buffers are).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDirectAt, supportsDirectIo, writeDirectAt } from '../../src/block/direct-io';
import { DIRECT_IO_ALIGNMENT, pageAlignedBuffer } from '../../src/block/native-memory';

test('pageAlignedBuffer memory goes through O_DIRECT both ways; a size below 1 is refused, not a crash', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-memory-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  if (!(await supportsDirectIo(dir))) return t.skip(`${dir}: no O_DIRECT on this filesystem`);
  const size = 3 * DIRECT_IO_ALIGNMENT;
  const block = pageAlignedBuffer(size);
  assert.equal(block.length, size);
  block.fill(7, 0, 5000);
  const file = await open(join(dir, 'block'), constants.O_RDWR | constants.O_CREAT | constants.O_DIRECT, 0o600);
  t.after(() => file.close());
  await writeDirectAt(file, block, 5000, DIRECT_IO_ALIGNMENT);
  const back = pageAlignedBuffer(size).fill(0);
  await readDirectAt(file, back, 5000, DIRECT_IO_ALIGNMENT);
  assert.ok(back.subarray(0, 5000).equals(block.subarray(0, 5000)));
  // Node's own memory is 16 bytes past a page: the check has teeth.
  await assert.rejects(writeDirectAt(file, Buffer.alloc(size + 16).subarray(16), 5000, 0), /EINVAL/);
  assert.throws(() => pageAlignedBuffer(0), /alignedBuffer/);
});
