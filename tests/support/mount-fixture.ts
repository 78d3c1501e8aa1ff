import assert from 'node:assert/strict';
import { execFile, spawn, ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { controlSocketPath } from '../../src/control/control-path';
import { removeStaleControlSocket } from '../../src/control/stale-socket';
import { isMounted, waitUntilAnswering } from '../../src/mount/mountpoint';
import { killChild, processesMentioning, waitFor } from './e2e-helpers';

const exec = promisify(execFile);

/** The CLI as a user runs it. */
export const CACHALOT = resolve(__dirname, '../../../daemon/cachalot');

/**
 * Every mountpoint this test file mounted or cleaned up. When the file is
 * done, none may have a control socket left in /run/cachalot: one that
 * stays past a daemon's exit fails the file, and is removed.
 */
const mountpointsUsed = new Set<string>();
let socketsChecked = false;
process.on('beforeExit', async () => {
  if (socketsChecked) return;
  socketsChecked = true;
  const left: string[] = [];
  for (const mp of mountpointsUsed) {
    // A daemon that is still exiting removes its own.
    if (await waitFor(() => !existsSync(controlSocketPath(mp)), 10_000)) continue;
    left.push(`${mp} (${controlSocketPath(mp)})`);
    await removeStaleControlSocket(mp);
  }
  if (left.length === 0) return;
  process.stderr.write(`control sockets left behind by this file's daemons: ${left.join(', ')}\n`);
  process.exitCode = 1;
});

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cachalot ARGS` to completion; never throws on a non-zero exit. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  try {
    const { stdout, stderr } = await exec(CACHALOT, args, { env, timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The command-line failure contract: exactly one "cachalot: error:" line on stderr and a non-zero exit code (exitCode, when given). */
export function assertOneLineError(result: CliResult, pattern: RegExp, exitCode?: number): void {
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
  const shown = JSON.stringify(result.stderr);
  assert.equal(lines.length, 1, `exactly one non-empty line on stderr, got ${shown}`);
  assert.match(lines[0], /^cachalot: error: \S/, `starts with "cachalot: error:": ${shown}`);
  assert.match(lines[0], pattern, `the reason: ${shown}`);
  assert.notEqual(result.code, 0, 'non-zero exit code');
  if (exitCode !== undefined) assert.equal(result.code, exitCode, `exit code (stderr ${shown})`);
}

/** For after(): ends the children a test started and, by PID, a daemon a failed mount left, then unmounts what is left at its mountpoints. */
export async function cleanUpDaemons(children: ChildProcess[], mountpoints: string[]): Promise<void> {
  for (const child of children) await killChild(child);
  for (const mp of mountpoints) for (const pid of processesMentioning(mp)) process.kill(pid, 'SIGKILL');
  for (const mp of mountpoints) await forceUnmount(mp);
}

export interface Mounted {
  mountpoint: string;
  cacheDir: string;
  /** PID of the daemon serving the mount. */
  pid: number;
  unmount(): Promise<void>;
}

/**
 * Lazily unmounts whatever is left at path, and removes the control socket
 * of a daemon that was killed there (as `cachalot unmount` does): for
 * after() hooks, also when a test failed.
 */
export async function forceUnmount(path: string): Promise<void> {
  mountpointsUsed.add(path);
  if (await isMounted(path).catch(() => false)) {
    await exec('fusermount', ['-uz', path]).catch(() => exec('umount', ['-l', path]).catch(() => {}));
  }
  await removeStaleControlSocket(path);
}

/** Mounts through `cachalot mount` (background daemon) in a fresh temporary mountpoint. */
export async function mountBucket(source: string, env: NodeJS.ProcessEnv, extraArgs: string[] = []): Promise<Mounted> {
  const root = mkdtempSync(join(tmpdir(), 'cachalot-mnt-'));
  const mountpoint = join(root, 'mnt');
  const cacheDir = join(root, 'cache');
  mountpointsUsed.add(mountpoint);
  await exec('mkdir', ['-p', mountpoint]);
  const result = await runCli(['mount', source, mountpoint, '--cache-dir', cacheDir, '--log-level', 'warn', ...extraArgs], env);
  if (result.code !== 0) {
    await forceUnmount(mountpoint);
    rmSync(root, { recursive: true, force: true });
    throw new Error(`mount failed (${result.code}): ${result.stderr.trim()}`);
  }
  const pid = Number(/\(pid (\d+)/.exec(result.stdout)?.[1]);
  return {
    mountpoint,
    cacheDir,
    pid,
    unmount: async () => {
      await runCli(['unmount', mountpoint], env);
      await forceUnmount(mountpoint);
      await waitForExit(pid, 10_000);
      // Never recurse into a mount that is somehow still there: that would walk the bucket.
      if (!(await isMounted(mountpoint))) rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Starts `cachalot mount --foreground` as a child the test owns (for crash and signal tests). */
export async function mountForeground(source: string, mountpoint: string, env: NodeJS.ProcessEnv, extraArgs: string[] = []): Promise<ChildProcess> {
  mountpointsUsed.add(mountpoint);
  const child = spawn(CACHALOT, ['mount', source, mountpoint, '--foreground', '--log-level', 'warn', ...extraArgs], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`daemon exited (${code}) before mounting: ${stderr.trim()}`))),
  );
  await Promise.race([waitUntilAnswering(mountpoint, 30_000), exited]);
  child.removeAllListeners('exit');
  return child;
}

/** Waits for a process to be gone (it was asked to exit by other means). */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
