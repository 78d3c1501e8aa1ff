// Meta's epoch in LMDB under --data-dir: it never goes backwards across restarts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openEpochStore } from '../../src/meta/epoch-store';
import { Membership } from '../../src/meta/membership';
import { isCachalotError } from '../../src/errors';

test('epochs survive a close and reopen, and every restart moves past the last one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-epoch-'));
  try {
    const seen: number[] = [];
    for (let restart = 0; restart < 3; restart++) {
      const store = openEpochStore(join(dir, 'data'));
      const membership = new Membership({ leaseMs: 1000, store });
      membership.register({ nodeId: `n${restart}`, peerAddress: '', capacityBytes: 1 });
      seen.push(membership.epoch);
      await store.close();
    }
    assert.deepEqual(seen, [2, 4, 6]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a data dir that cannot be made is a one-line InvalidConfig error naming it', () => {
  const below = join('/proc/self/status', 'data');
  assert.throws(() => openEpochStore(below), (err) => isCachalotError(err, 'InvalidConfig') && err.message.includes(below) && !err.message.includes('\n'));
});

test('a data dir another meta has open is refused, naming it and that process; free again once closed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-epoch-'));
  try {
    const data = join(dir, 'data');
    const first = openEpochStore(data);
    assert.throws(
      () => openEpochStore(data),
      (err) => isCachalotError(err, 'DataDirBusy') && err.message === `data dir ${data} is in use by process ${process.pid}`,
    );
    await first.close();
    await openEpochStore(data).close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
