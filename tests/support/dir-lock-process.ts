// A process that takes a directory's lock, for the tests of src/dir-lock.ts:
//   hold DIR        takes the lock, says "locked", and holds it until killed
//   race DIR        says "ready", tries the lock when a line comes on stdin, says "won"
//                   or "busy", and holds what it won until stdin ends
//   churn DIR N     takes and releases the lock N times; while it holds it, a marker file
//                   made exclusively beside it must not exist yet (another holder made it):
//                   says "overlap" and exits 1 if it does, "done" at the end
import { closeSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DirLock } from '../../src/dir-lock';
import { isCachalotError } from '../../src/errors';

const [mode, dir, count] = process.argv.slice(2);

function tryAcquire(): DirLock | undefined {
  try {
    return DirLock.acquire(dir, 'cache dir');
  } catch (err) {
    if (isCachalotError(err, 'CacheDirBusy')) return undefined;
    throw err;
  }
}

if (mode === 'hold') {
  DirLock.acquire(dir, 'cache dir');
  process.stdout.write('locked\n');
  setInterval(() => {}, 60_000);
} else if (mode === 'race') {
  const lines = createInterface({ input: process.stdin });
  let held: DirLock | undefined;
  lines.once('line', () => {
    held = tryAcquire();
    process.stdout.write(held ? 'won\n' : 'busy\n');
  });
  lines.on('close', () => held?.release());
  process.stdout.write('ready\n');
} else if (mode === 'churn') {
  const marker = join(dir, 'holder');
  for (let taken = 0; taken < Number(count); ) {
    const lock = tryAcquire();
    if (!lock) continue;
    try {
      closeSync(openSync(marker, 'wx'));
    } catch {
      process.stdout.write('overlap\n');
      process.exit(1);
    }
    rmSync(marker);
    lock.release();
    taken++;
  }
  process.stdout.write('done\n');
} else {
  throw new Error(`unknown mode ${mode}`);
}
