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
 * A FUSE mount whose daemon died ("Transport endpoint is not connected").
 * statfs, not stat: the kernel may answer stat of a dead mount from its
 * attribute cache, while statfs always asks the daemon.
 */
export async function isStaleMount(path: string): Promise<boolean> {
  return statfs(path).then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === 'ENOTCONN' || err.code === 'ECONNABORTED',
  );
}

/**
 * Checks that path can take a new mount. A stale FUSE mount there is lazily
 * unmounted and replaced.
 */
export async function prepareMountpoint(path: string): Promise<{ replacedStale: boolean }> {
  const replacedStale = (await isMounted(path)) && (await isStaleMount(path));
  if (replacedStale) await unmountPath(path, true);
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new CachalotError('MountpointInvalid', `mountpoint ${path} does not exist`);
    throw new CachalotError('MountpointInvalid', `mountpoint ${path}: ${err.code ?? err}`, { cause: err });
  });
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
