import { execFile } from 'node:child_process';
import { readFile, stat, statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { CachalotError } from '../errors';

const run = promisify(execFile);

/** True when a mount sits at path according to the kernel's mount table. */
export async function isMounted(path: string): Promise<boolean> {
  const table = await readFile('/proc/self/mounts', 'utf8');
  const target = resolve(path);
  // Mount points in the table escape space, tab, newline and backslash in octal.
  return table.split('\n').some((line) => unescapeMountPath(line.split(' ')[1] ?? '') === target);
}

function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8)));
}

/** Unmounts: plain first, lazily when the mount is busy or its daemon is gone. */
export async function unmountPath(path: string, lazy = false): Promise<void> {
  try {
    await run('fusermount', [lazy ? '-uz' : '-u', path]);
  } catch (err) {
    if (lazy) await run('umount', ['-l', path]);
    else throw err;
  }
}

/**
 * Checks that path can take a new mount. A stale FUSE mount there (its daemon
 * died: "Transport endpoint is not connected") is lazily unmounted and replaced.
 */
export async function prepareMountpoint(path: string): Promise<{ replacedStale: boolean }> {
  let replacedStale = false;
  try {
    await stat(path);
    // The kernel may answer stat of a dead FUSE mount from its attribute
    // cache; statfs always asks the daemon, so a dead one says ENOTCONN.
    if (await isMounted(path)) await statfs(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN' || code === 'ECONNABORTED') {
      await unmountPath(path, true);
      replacedStale = true;
    } else if (code === 'ENOENT') {
      throw new CachalotError('MountpointInvalid', `mountpoint ${path} does not exist`);
    } else {
      throw new CachalotError('MountpointInvalid', `mountpoint ${path}: ${code ?? err}`, { cause: err });
    }
  }
  const st = await stat(path);
  if (!st.isDirectory()) throw new CachalotError('MountpointInvalid', `mountpoint ${path} is not a directory`);
  if (await isMounted(path)) throw new CachalotError('MountpointInvalid', `mountpoint ${path} is already mounted`);
  return { replacedStale };
}

/** Resolves once the kernel answers for the mount: a stat of the mountpoint reaches the new filesystem. */
export async function waitUntilAnswering(path: string, timeoutMs: number): Promise<void> {
  const parent = await stat(resolve(path, '..'));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await stat(path).catch(() => undefined);
    if (st && st.dev !== parent.dev && (await isMounted(path))) return;
    if (Date.now() > deadline) throw new CachalotError('MountFailed', `mount at ${path} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
