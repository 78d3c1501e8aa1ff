// A mount's life: background start that returns only once the mount answers,
// `cachalot unmount`, signals to a foreground daemon, and recovery from a
// stale mount, a held cache dir and a control socket left by a daemon killed
// with SIGKILL.
import assert from 'node:assert/strict';
import { ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { controlSocketPath } from '../../src/control/control-path';
import { CACHALOT, forceUnmount, mountForeground, runCli, waitForExit } from '../support/mount-fixture';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { childExit, isAlive, killChild, mountAt, processState, waitFor, waitForZombie } from '../support/e2e-helpers';

const BUCKET = 'lifecycle';
const FILES: Record<string, string> = { 'a.txt': 'alpha', 'b.txt': 'bravo', 'dir/c.txt': 'charlie' };

let s3: S3Fixture;
let work: string;
let counter = 0;
const mountpoints: string[] = [];
const children: ChildProcess[] = [];
const daemonPids: number[] = [];

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  for (const [key, body] of Object.entries(FILES)) await s3.put(BUCKET, key, body);
  work = mkdtempSync(join(tmpdir(), 'cachalot-lifecycle-'));
});

after(async () => {
  for (const child of children) await killChild(child);
  for (const mp of mountpoints) await forceUnmount(mp);
  for (const pid of daemonPids) {
    if (isAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      if (!(await waitForExit(pid, 5000))) process.kill(pid, 'SIGKILL');
    }
  }
  await s3?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function newMountpoint(): { mp: string; cacheDir: string } {
  const mp = join(work, `mnt-${++counter}`);
  mkdirSync(mp);
  mountpoints.push(mp);
  return { mp, cacheDir: join(work, `cache-${counter}`) };
}

/** `cachalot mount` in the background; returns the daemon's pid (tracked for cleanup). */
async function backgroundMount(mp: string, cacheDir: string): Promise<number> {
  const result = await runCli(['mount', `s3://${BUCKET}`, mp, '--cache-dir', cacheDir, '--log-level', 'warn'], s3.env);
  assert.equal(result.code, 0, `mount: ${result.stderr}`);
  const pid = Number(/\(pid (\d+)/.exec(result.stdout)?.[1]);
  assert.ok(pid > 0, `mount names the daemon's pid: ${JSON.stringify(result.stdout)}`);
  daemonPids.push(pid);
  return pid;
}

/** The mount serves the bucket: listing and contents, synchronously (no retry). */
function assertServes(mp: string): void {
  assert.deepEqual(readdirSync(mp).sort(), ['a.txt', 'b.txt', 'dir']);
  assert.equal(readFileSync(join(mp, 'dir/c.txt'), 'utf8'), 'charlie');
}

/** A foreground daemon that served mp, killed with SIGKILL just now; exited settles once it is reaped. */
async function killedDaemon(mp: string, cacheDir: string): Promise<{ child: ChildProcess; exited: ReturnType<typeof childExit> }> {
  const child = await mountForeground(`s3://${BUCKET}`, mp, s3.env, ['--cache-dir', cacheDir]);
  children.push(child);
  assertServes(mp);
  const exited = childExit(child, 10_000);
  child.kill('SIGKILL');
  return { child, exited };
}

describe('background mount', () => {
  test('returns 0 only once the mount answers: readdir works right after the command returns', async () => {
    for (let round = 0; round < 2; round++) {
      const { mp, cacheDir } = newMountpoint();
      const parentDev = statSync(work).dev;
      const pid = await backgroundMount(mp, cacheDir);
      // No waiting, no retry: the very next calls must reach the new filesystem.
      const entry = mountAt(mp);
      assert.ok(entry, 'the kernel lists the mount');
      assert.match(entry.type, /^fuse/, 'a FUSE mount');
      assert.notEqual(statSync(mp).dev, parentDev, 'the mountpoint is the mounted filesystem, not the empty directory');
      assertServes(mp);
      assert.ok(isAlive(pid), 'the daemon runs');
      const unmounted = await runCli(['unmount', mp], s3.env);
      assert.equal(unmounted.code, 0, unmounted.stderr);
      assert.ok(await waitForExit(pid, 10_000), 'daemon exits');
    }
  });

  test('`cachalot unmount` unmounts at once and the daemon exits', async () => {
    const { mp, cacheDir } = newMountpoint();
    const pid = await backgroundMount(mp, cacheDir);
    assertServes(mp);
    const result = await runCli(['unmount', mp], s3.env);
    assert.equal(result.code, 0, `unmount: ${result.stderr}`);
    assert.equal(result.stderr.trim(), '', 'nothing on stderr');
    assert.equal(mountAt(mp), undefined, 'unmounted when the command returns');
    assert.deepEqual(readdirSync(mp), [], 'the empty mountpoint directory is back');
    const started = Date.now();
    assert.ok(await waitForExit(pid, 10_000), `daemon ${pid} exits within 10 s`);
    assert.ok(Date.now() - started < 10_000);
  });
});

describe('foreground daemon', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} unmounts cleanly and exits 0`, async () => {
      const { mp, cacheDir } = newMountpoint();
      const child = await mountForeground(`s3://${BUCKET}`, mp, s3.env, ['--cache-dir', cacheDir]);
      children.push(child);
      assertServes(mp);
      const exited = childExit(child, 15_000);
      child.kill(signal);
      const { code, signal: killedBy } = await exited;
      assert.equal(killedBy, null, `exits by itself, not killed by ${killedBy}`);
      assert.equal(code, 0, 'exit code 0');
      assert.equal(mountAt(mp), undefined, 'nothing left mounted');
      assert.deepEqual(readdirSync(mp), []);
    });
  }

  test('SIGTERM while a file is open still unmounts and exits 0', async () => {
    const { mp, cacheDir } = newMountpoint();
    const child = await mountForeground(`s3://${BUCKET}`, mp, s3.env, ['--cache-dir', cacheDir]);
    children.push(child);
    const handle = await open(join(mp, 'a.txt'));
    try {
      assert.equal((await handle.readFile('utf8')), 'alpha');
      const exited = childExit(child, 15_000);
      child.kill('SIGTERM');
      const { code, signal } = await exited;
      assert.equal(signal, null, `exits by itself, not killed by ${signal}`);
      assert.equal(code, 0, 'exit code 0');
      assert.equal(mountAt(mp), undefined, 'detached although busy');
    } finally {
      await handle.close().catch(() => {});
    }
  });
});

describe('stale mount', () => {
  test('after kill -9 of the daemon, `cachalot mount` on the same mountpoint succeeds and serves', async () => {
    const { mp, cacheDir } = newMountpoint();
    const { exited } = await killedDaemon(mp, cacheDir);
    assert.equal((await exited).signal, 'SIGKILL');

    // The kernel keeps the mount; its daemon is gone.
    assert.ok(mountAt(mp), 'the dead mount is still in the mount table');
    await assert.rejects(readdir(mp), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ENOTCONN', `Transport endpoint is not connected (got ${err.code})`);
      return true;
    });

    const pid = await backgroundMount(mp, cacheDir);
    assertServes(mp);
    const entries = readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((line) => line.split(' ')[1] === mp);
    assert.equal(entries.length, 1, `exactly one mount at ${mp} (the stale one is gone): ${entries.join(' | ')}`);
    const result = await runCli(['unmount', mp], s3.env);
    assert.equal(result.code, 0, `unmount: ${result.stderr}`);
    assert.ok(await waitFor(() => !isAlive(pid), 10_000), 'daemon exits');
    assert.equal(mountAt(mp), undefined);
  });
});

describe('a daemon killed with SIGKILL', () => {
  test('`cachalot mount` at once, the killed daemon not reaped yet (a zombie): its cache dir is free, the mount serves', async () => {
    const { mp, cacheDir } = newMountpoint();
    const { child, exited } = await killedDaemon(mp, cacheDir);
    waitForZombie(child.pid!, 5000);
    // Synchronous: this process's event loop, which would reap the child, waits meanwhile.
    const result = spawnSync(CACHALOT, ['mount', `s3://${BUCKET}`, mp, '--cache-dir', cacheDir, '--log-level', 'warn'], { env: s3.env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(processState(child.pid!), 'Z', 'the killed daemon was still a zombie while the mount started');
    assert.equal(result.status, 0, `mount: ${result.stderr}`);
    const pid = Number(/\(pid (\d+)/.exec(result.stdout)?.[1]);
    daemonPids.push(pid);
    assertServes(mp);
    assert.equal((await exited).signal, 'SIGKILL');
    assert.equal((await runCli(['unmount', mp], s3.env)).code, 0);
    assert.ok(await waitForExit(pid, 10_000), 'daemon exits');
  });

  test('leaves its control socket; `cachalot unmount` removes it, and so does the next start there, even one that fails', async () => {
    const { mp, cacheDir } = newMountpoint();
    const socket = controlSocketPath(mp);
    const killDaemon = async () => {
      const { exited } = await killedDaemon(mp, cacheDir);
      assert.equal((await exited).signal, 'SIGKILL');
      assert.ok(existsSync(socket), `the killed daemon left ${socket}`);
    };

    await killDaemon();
    const unmounted = await runCli(['unmount', mp], s3.env);
    assert.equal(unmounted.code, 0, `unmount: ${unmounted.stderr}`);
    assert.equal(existsSync(socket), false, 'unmount removed the socket');

    await killDaemon();
    const failed = await runCli(['mount', 's3://no-such-bucket', mp, '--cache-dir', cacheDir, '--log-level', 'warn'], s3.env);
    assert.notEqual(failed.code, 0, 'the bucket does not exist');
    assert.equal(mountAt(mp), undefined, 'nothing mounted');
    assert.equal(existsSync(socket), false, 'the failed start removed the socket');
  });
});
