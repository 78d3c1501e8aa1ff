// Helpers for the block-cache end-to-end tests: daemons mounted at a chosen
// mountpoint on a chosen --cache-dir (so that a cache dir outlives its daemon),
// `cachalot stats --json`, dropping the kernel's page cache, and the block
// files under CACHE_DIR/blocks. Every daemon and mountpoint is tracked so that
// cleanup() unmounts and ends them, by PID, also when a test failed.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMounted } from '../../src/mount/mountpoint';
import { forceUnmount, runCli, waitForExit, CliResult } from './mount-fixture';
import { assertSameBytes, isAlive } from './e2e-helpers';

/** A daemon this process started, serving mountpoint from cacheDir. */
export interface Daemon {
  mountpoint: string;
  cacheDir: string;
  pid: number;
}

/** `cachalot stats --json` as documented in docs/STATS.md (the tests check the fields at run time). */
import type { TierStats } from '../../src/block/types';
import type { MountStats } from '../../src/mount/mount-stats';

export type StatsJson = MountStats;
export type TierFigures = TierStats;

/** Daemons started with `cachalot mount` (background), each tracked for cleanup. */
export class CacheDaemons {
  private readonly mountpoints = new Set<string>();
  private readonly pids = new Set<number>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly source: string,
  ) {}

  /** Runs `cachalot mount SOURCE MOUNTPOINT --cache-dir CACHEDIR ARGS`; never throws. */
  async tryMount(mountpoint: string, cacheDir: string, args: string[] = []): Promise<CliResult & { pid?: number }> {
    this.mountpoints.add(mountpoint);
    const result = await runCli(['mount', this.source, mountpoint, '--cache-dir', cacheDir, '--log-level', 'warn', ...args], this.env);
    const match = /\(pid (\d+)/.exec(result.stdout);
    const pid = match ? Number(match[1]) : undefined;
    if (pid !== undefined) this.pids.add(pid);
    return { ...result, pid };
  }

  /** Mounts, or fails the test with the command's own error line. */
  async mount(mountpoint: string, cacheDir: string, args: string[] = []): Promise<Daemon> {
    const result = await this.tryMount(mountpoint, cacheDir, args);
    if (result.code !== 0) {
      assert.fail(
        `cachalot mount ${mountpoint} --cache-dir ${cacheDir} ${args.join(' ')}: exit ${result.code}: ${result.stderr.trim()}` +
          `; last lines of the daemon's log:\n${logTail(cacheDir, 8)}`,
      );
    }
    assert.ok(result.pid && result.pid > 0, `mount names the daemon's pid: ${JSON.stringify(result.stdout)}`);
    return { mountpoint, cacheDir, pid: result.pid };
  }

  /** `cachalot unmount`, then waits for the daemon to exit (its cache dir is then free). */
  async unmount(daemon: Daemon): Promise<void> {
    const result = await runCli(['unmount', daemon.mountpoint], this.env);
    assert.equal(result.code, 0, `cachalot unmount ${daemon.mountpoint}: ${result.stderr.trim()}`);
    assert.ok(await waitForExit(daemon.pid, 15_000), `daemon ${daemon.pid} exits after unmount`);
    this.pids.delete(daemon.pid);
  }

  /**
   * SIGTERM to the daemon, by its PID: it unmounts and closes its cache dir
   * at once (`cachalot unmount` leaves the daemon to notice within 2 s).
   */
  async stop(daemon: Daemon): Promise<void> {
    process.kill(daemon.pid, 'SIGTERM');
    assert.ok(await waitForExit(daemon.pid, 15_000), `daemon ${daemon.pid} exits on SIGTERM`);
    this.pids.delete(daemon.pid);
    assert.ok(!(await isMounted(daemon.mountpoint)), `${daemon.mountpoint} is unmounted`);
  }

  /** For after() hooks: unmounts whatever is left and ends leftover daemons, by PID. */
  async cleanup(): Promise<void> {
    for (const mp of this.mountpoints) {
      await runCli(['unmount', mp], this.env, 15_000).catch(() => undefined);
      await forceUnmount(mp);
    }
    for (const pid of this.pids) {
      if (!isAlive(pid)) continue;
      process.kill(pid, 'SIGTERM');
      if (!(await waitForExit(pid, 5000))) {
        process.kill(pid, 'SIGKILL');
        await waitForExit(pid, 5000);
      }
    }
    this.pids.clear();
  }
}

/** A fresh mountpoint (made) and cache dir (not yet) of a test's own under `work`. */
export function placeUnder(work: string, name: string): { mp: string; cacheDir: string } {
  const mp = join(work, `${name}-mnt`);
  mkdirSync(mp);
  return { mp, cacheDir: join(work, `${name}-cache`) };
}

/** The last lines of CACHE_DIR/cachalot.log (the background daemon's default log), for failure messages. */
export function logTail(cacheDir: string, lines: number): string {
  try {
    return readFileSync(join(cacheDir, 'cachalot.log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (err) {
    return `(no log: ${(err as NodeJS.ErrnoException).code ?? err})`;
  }
}

/** `cachalot stats MOUNTPOINT --json`, parsed. */
export async function statsOf(mountpoint: string, env: NodeJS.ProcessEnv): Promise<StatsJson> {
  const result = await runCli(['stats', mountpoint, '--json'], env);
  assert.equal(result.code, 0, `cachalot stats ${mountpoint} --json: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as StatsJson;
}

export function tierOf(stats: StatsJson, name: 'ram' | 'disk'): TierFigures {
  const tier = stats.tiers.find((t) => t.tier === name);
  assert.ok(tier, `stats list a ${name} tier: ${JSON.stringify(stats.tiers)}`);
  return tier;
}

/**
 * Drops the kernel's page cache (clean pages, FUSE ones included), so the next
 * read reaches the daemon. Returns why it could not, for t.skip().
 */
export function dropPageCache(): string | undefined {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '1');
    return undefined;
  } catch (err) {
    return `cannot drop the page cache (echo 1 > /proc/sys/vm/drop_caches: ${(err as NodeJS.ErrnoException).code ?? err})`;
  }
}

/** The disk tier's object files under CACHE_DIR/objects (paths relative to cacheDir), with their sizes and the disk space they take. */
export function objectFiles(cacheDir: string): Array<{ path: string; size: number; allocated: number }> {
  const files: Array<{ path: string; size: number; allocated: number }> = [];
  const root = join(cacheDir, 'objects');
  let shards: string[];
  try {
    shards = readdirSync(root);
  } catch {
    return files;
  }
  for (const shard of shards) {
    let names: string[];
    try {
      names = readdirSync(join(root, shard));
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join('objects', shard, name);
      try {
        const info = statSync(join(cacheDir, path));
        if (info.isFile()) files.push({ path, size: info.size, allocated: info.blocks * 512 });
      } catch {
        // deleted meanwhile
      }
    }
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** Disk space the disk tier's files take: cached bytes (in whole filesystem blocks) and their extent trees. */
export function cachedBytesOnDisk(cacheDir: string): number {
  return objectFiles(cacheDir).reduce((sum, file) => sum + file.allocated, 0);
}

/** How many blocks of blockSize the objects make (an empty object has none). */
export function blockCount(objects: Map<string, Buffer>, blockSize: number): number {
  let n = 0;
  for (const bytes of objects.values()) n += Math.ceil(bytes.length / blockSize);
  return n;
}

/** Reads every object through the mount, in order, comparing bytes; returns the bytes read. */
export async function readAllAndCompare(mountpoint: string, objects: Map<string, Buffer>, what: string): Promise<number> {
  let total = 0;
  for (const [key, expected] of objects) {
    const actual = await readFile(join(mountpoint, key));
    assertSameBytes(actual, expected, `${what}: ${key}`);
    total += actual.length;
  }
  return total;
}
