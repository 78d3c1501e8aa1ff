// Process and mount hygiene for the benchmark: everything it starts or mounts
// is registered here and torn down by PID or by mountpoint, also on failure or
// Ctrl-C. Nothing is ever ended by name.
import { ChildProcess, execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { isMounted } from '../../src/mount/mountpoint';

const exec = promisify(execFile);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Seconds since an hrtime.bigint() mark. */
export function since(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** True while a process with this PID exists (and is not a zombie of ours). */
export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return !alive(pid);
}

/** SIGTERM, then SIGKILL after graceMs; only for PIDs this run started. */
export async function endProcess(pid: number, graceMs = 5000): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitForExit(pid, graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitForExit(pid, 5000);
}

/** Unmounts: plain, then lazily (fusermount -uz, umount -l) when busy or stale. */
export async function unmountAny(mountpoint: string): Promise<void> {
  if (!(await isMounted(mountpoint).catch(() => false))) return;
  await exec('fusermount', ['-u', mountpoint], { timeout: 20_000 }).catch(() => {});
  if (!(await isMounted(mountpoint).catch(() => false))) return;
  await exec('fusermount', ['-uz', mountpoint], { timeout: 20_000 }).catch(() => exec('umount', ['-l', mountpoint], { timeout: 20_000 }).catch(() => {}));
}

/** The kernel's start time of a process (field 22 of /proc/PID/stat): with the PID, it names one process. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** What this run owns: PIDs it started and mountpoints it mounted. */
class Registry {
  /** PID -> start time when registered, so that a reused PID is never signalled. */
  private readonly pids = new Map<number, string | undefined>();
  private readonly mounts = new Set<string>();
  /** Every mountpoint this run ever mounted, to check at the end that none is left. */
  readonly everMounted = new Set<string>();
  /** Set when the run is being stopped: nothing new may be started. */
  closed = false;

  close(): void {
    this.closed = true;
  }
  /** Throws once the run is being stopped; call before starting anything. */
  assertOpen(): void {
    if (this.closed) throw new Error('the run is stopping');
  }
  private readonly finalizers: Array<() => Promise<void>> = [];

  addPid(pid: number): void {
    if (Number.isInteger(pid) && pid > 0) this.pids.set(pid, startTimeOf(pid));
  }
  removePid(pid: number): void {
    this.pids.delete(pid);
  }
  addMount(path: string): void {
    this.mounts.add(path);
    this.everMounted.add(path);
  }
  removeMount(path: string): void {
    this.mounts.delete(path);
  }
  /** Runs last (e.g. stop the origin, remove the work directory). */
  onFinal(fn: () => Promise<void>): void {
    this.finalizers.push(fn);
  }

  /** Unmounts every mount, ends every PID, then runs the finalizers. Safe to call twice. */
  async cleanup(): Promise<void> {
    for (const mountpoint of [...this.mounts]) {
      await unmountAny(mountpoint).catch(() => {});
      this.mounts.delete(mountpoint);
    }
    for (const [pid, started] of [...this.pids]) {
      if (started !== undefined && startTimeOf(pid) === started) await endProcess(pid).catch(() => {});
      this.pids.delete(pid);
    }
    for (const fn of this.finalizers.splice(0).reverse()) await fn().catch(() => {});
  }
}

export const owned = new Registry();

/** Registers a spawned child until it exits. */
export function track(child: ChildProcess): void {
  owned.addPid(child.pid!);
  child.once('exit', () => owned.removePid(child.pid!));
}

export interface ProcStats {
  /** utime + stime, seconds. */
  cpuSec: number;
  /** Peak resident set (VmHWM), MiB. */
  peakRssMiB: number;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time and peak RSS of a live process, or undefined when it is gone. */
export function procStats(pid: number): ProcStats | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSec = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
    return { cpuSec, peakRssMiB: hwm / 1024 };
  } catch {
    return undefined;
  }
}

/**
 * Bytes a process has passed to read and write calls so far, files and sockets
 * alike (/proc/PID/io rchar, wchar), or undefined when it is gone. For the
 * origin, written bytes are what it sent: response bodies and headers.
 */
export function ioBytes(pid: number): { read: number; written: number } | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(io)?.[1] ?? NaN);
    return { read: field('rchar'), written: field('wchar') };
  } catch {
    return undefined;
  }
}

/** CPU seconds spent by the whole machine so far (all CPUs, everything but idle and iowait). */
export function machineBusySec(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + (steal ?? 0)) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** CPU seconds of this process, all threads (reader threads included). */
export function selfCpuSec(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Counts the CPU time that processes other than ours spend between start()
 * and stop(): on a shared machine, what else was running during a measurement.
 */
export class ForeignCpu {
  private start?: { machine: number; own: number };
  constructor(private readonly ownPids: () => number[]) {}

  private own(): number {
    return selfCpuSec() + this.ownPids().reduce((sum, pid) => sum + (procStats(pid)?.cpuSec ?? 0), 0);
  }
  begin(): void {
    this.start = { machine: machineBusySec(), own: this.own() };
  }
  /** Foreign CPU seconds since begin(). */
  end(): number {
    if (!this.start) return NaN;
    const foreign = machineBusySec() - this.start.machine - (this.own() - this.start.own);
    return Math.max(0, foreign);
  }
}

/**
 * `sync; echo 3 > /proc/sys/vm/drop_caches`. Returns undefined on success,
 * else why not (the caller notes it once in the report).
 */
export function dropCaches(): string | undefined {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return undefined;
  } catch (err) {
    return `page cache not dropped (${(err as NodeJS.ErrnoException).code ?? String(err)}); "cold" figures may include cached pages`;
  }
}

/** Resolves with fn's value, or rejects after ms once onTimeout (which must unblock fn) has run. */
export async function withTimeout<T>(what: string, ms: number, fn: Promise<T>, onTimeout: () => Promise<void>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout()
        .catch(() => {})
        .finally(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)));
    }, ms);
  });
  try {
    return await Promise.race([fn, expired]);
  } finally {
    clearTimeout(timer);
  }
}
