import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, RootDatabase } from 'lmdb';
import { DirLock } from '../dir-lock';
import { CachalotError, isCachalotError } from '../errors';
import type { EpochStore } from './types';

const EPOCH_KEY = 'epoch';

/** Meta's durable state: an LMDB environment (state/ under --data-dir) holding the epoch. */
export interface DurableEpochStore extends EpochStore {
  close(): Promise<void>;
}

/**
 * Opens the data dir, locked to this process: two metas on one data dir
 * would hand out the same epochs (LMDB itself lets several processes in).
 */
export function openEpochStore(dataDir: string): DurableEpochStore {
  const { lock, db } = openDataDir(dataDir);
  return {
    load: () => db.get(EPOCH_KEY) ?? 0,
    // Committed and flushed before it returns: an epoch handed out is never handed out again. Epochs change
    // only when members come or go, so the milliseconds this blocks do not matter.
    save: (epoch) => {
      db.putSync(EPOCH_KEY, epoch);
    },
    close: async () => {
      await db.close();
      lock.release();
    },
  };
}

/** Every failure is one line naming the dir: DataDirBusy when another process holds it, else InvalidConfig. */
function openDataDir(dataDir: string): { lock: DirLock; db: RootDatabase<number, string> } {
  let lock: DirLock | undefined;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    lock = DirLock.acquire(dataDir, 'data dir');
    // Flushed within the commit (no overlapping sync): an epoch survives a power loss too, not only a crash.
    return { lock, db: open<number, string>({ path: join(dataDir, 'state'), overlappingSync: false }) };
  } catch (err) {
    lock?.release();
    if (isCachalotError(err)) throw err;
    throw new CachalotError('InvalidConfig', `data dir ${dataDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}
