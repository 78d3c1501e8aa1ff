import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CachalotError } from '../errors';

/**
 * One daemon per cache dir: two would delete each other's blocks as orphans
 * and evict by two different ideas of what the disk holds. The `lock` file is
 * created exclusively and holds the owner's pid; one left behind by a process
 * that no longer exists (kill -9, crash) is stale and taken over.
 *
 * Two daemons taking over the same stale lock at the same instant can both
 * win; that needs a crash and two starts racing, and is not guarded against.
 */
export class CacheDirLock {
  private constructor(private readonly file: string) {}

  static async acquire(dir: string): Promise<CacheDirLock> {
    const file = join(dir, 'lock');
    for (;;) {
      try {
        await writeFile(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
        return new CacheDirLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          // Created but not written (a full disk): an empty lock would stay behind.
          await rm(file, { force: true }).catch(() => undefined);
          throw err;
        }
      }
      const holder = await readHolder(file);
      if (holder !== undefined && isAlive(holder)) {
        throw new CachalotError('CacheDirBusy', `cache dir ${dir} is in use by process ${holder}`);
      }
      await rm(file, { force: true });
    }
  }

  async release(): Promise<void> {
    await rm(this.file, { force: true });
  }
}

/**
 * The pid in the lock file; undefined when there is none: its owner died
 * between creating and writing it, or released it a moment ago.
 */
async function readHolder(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  const pid = Number.parseInt(text, 10);
  return pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
