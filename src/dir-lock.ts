import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CachalotError } from './errors';
import { io } from './io-addon';

/** What a locked directory is, as its busy error names it. */
const KINDS = {
  'cache dir': 'CacheDirBusy',
  'data dir': 'DataDirBusy',
} as const;

export type LockedDir = keyof typeof KINDS;

/**
 * One process per directory: a daemon's cache dir (two daemons would delete
 * each other's blocks as orphans) and meta's data dir. The lock is the
 * kernel's, an flock(2) on DIR/lock (native/io): it is released when its
 * holder's last descriptor closes, so a process killed with SIGKILL frees it
 * at once, before its parent reaps it, and no pid in a file can outlive it
 * or be reused by another process; of two processes starting together
 * exactly one takes it. The file holds the holder's pid, for the message
 * that names it only.
 *
 * release() deletes the file before it lets go, and whoever takes the lock
 * then checks that the file it locked is still the one at the path: a
 * process that opened the file just before it was deleted would otherwise
 * hold a lock on a file nobody else can see.
 */
export class DirLock {
  private constructor(
    private readonly file: string,
    private fd: number | undefined,
  ) {}

  /** Takes the lock of dir, which exists; a CachalotError naming the holder's pid when another process holds it. */
  static acquire(dir: string, kind: LockedDir): DirLock {
    const file = join(dir, 'lock');
    for (;;) {
      // Node opens files close-on-exec: a child the holder starts does not inherit the lock.
      const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
      try {
        if (!io().tryLock(fd)) {
          const holder = readPid(fd);
          throw new CachalotError(KINDS[kind], `${kind} ${dir} is in use by ${holder ? `process ${holder}` : 'another process'}`);
        }
        if (isStillAt(file, fd)) {
          const pid = Buffer.from(`${process.pid}\n`);
          writeSync(fd, pid, 0, pid.length, 0);
          ftruncateSync(fd, pid.length);
          return new DirLock(file, fd);
        }
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      closeSync(fd);
    }
  }

  release(): void {
    if (this.fd === undefined) return;
    try {
      rmSync(this.file, { force: true });
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** Whether the locked file is the one at the path, not one deleted since it was opened. */
function isStillAt(file: string, fd: number): boolean {
  const path = statSync(file, { throwIfNoEntry: false });
  const locked = fstatSync(fd);
  return path !== undefined && path.ino === locked.ino && path.dev === locked.dev;
}

/** The pid in the lock file; undefined while its holder has not written it yet. */
function readPid(fd: number): number | undefined {
  const text = Buffer.alloc(32);
  const pid = Number.parseInt(text.toString('latin1', 0, readSync(fd, text, 0, text.length, 0)), 10);
  return pid > 0 ? pid : undefined;
}
