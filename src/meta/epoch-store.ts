import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, RootDatabase } from 'lmdb';
import { CachalotError } from '../errors';
import type { EpochStore } from './types';

const EPOCH_KEY = 'epoch';

/** Meta's durable state: an LMDB environment (state/ under --data-dir) holding the epoch. */
export interface DurableEpochStore extends EpochStore {
  close(): Promise<void>;
}

export function openEpochStore(dataDir: string): DurableEpochStore {
  let db: RootDatabase<number, string>;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Flushed within the commit (no overlapping sync): an epoch survives a power loss too, not only a crash.
    db = open<number, string>({ path: join(dataDir, 'state'), overlappingSync: false });
  } catch (err) {
    throw new CachalotError('InvalidConfig', `data dir ${dataDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return {
    load: () => db.get(EPOCH_KEY) ?? 0,
    // Committed and flushed before it returns: an epoch handed out is never handed out again. Epochs change
    // only when members come or go, so the milliseconds this blocks do not matter.
    save: (epoch) => {
      db.putSync(EPOCH_KEY, epoch);
    },
    close: () => db.close(),
  };
}
