// Small helpers shared by the end-to-end tests: deterministic bytes, a seeded
// PRNG, byte comparison with a useful message, the kernel's mount table read
// independently of src/, free ports, metrics scraping and bounded waits.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, connect } from 'node:net';
import type { S3Fixture } from './s3-fixture';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** mulberry32: a tiny seeded PRNG, so failures reproduce from the printed seed. */
export function makeRng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [0, n). */
    int: (n: number): number => Math.floor(next() * n),
    /** An integer in [lo, hi]. */
    between: (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
    shuffle: <T>(items: T[]): T[] => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j], items[i]];
      }
      return items;
    },
  };
}

export type Rng = ReturnType<typeof makeRng>;

/** The seed of a randomized test: CACHALOT_TEST_SEED when set (to reproduce a failure), else a fresh one. */
export function testSeed(): number {
  const fromEnv = process.env.CACHALOT_TEST_SEED;
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}

/** A stable 32-bit number for a string (per-file content seeds). */
export function hash32(text: string): number {
  return createHash('sha1').update(text).digest().readUInt32LE(0);
}

/**
 * Deterministic pseudo-random bytes (xorshift32): every 4-byte word differs,
 * so a block served at the wrong offset or from the wrong object is caught.
 */
export function patternBytes(size: number, seed: number): Buffer {
  const words = Math.ceil(size / 4);
  const backing = new ArrayBuffer(words * 4);
  const view = new Uint32Array(backing);
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < words; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    view[i] = x;
  }
  return Buffer.from(backing, 0, size);
}

/** Index of the first differing byte, or -1 when equal (length included). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  const step = 64 * KiB;
  for (let off = 0; off < n; off += step) {
    const end = Math.min(n, off + step);
    if (Buffer.compare(a.subarray(off, end), b.subarray(off, end)) !== 0) {
      for (let i = off; i < end; i++) if (a[i] !== b[i]) return i;
    }
  }
  return a.length === b.length ? -1 : n;
}

/** Throws a short message (never a dump of megabytes) when actual differs from expected. */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const at = firstDifference(actual, expected);
  if (at === -1) return;
  const hex = (b: Uint8Array) => Buffer.from(b.subarray(at, at + 16)).toString('hex');
  throw new Error(
    `${what}: bytes differ at offset ${at} (actual length ${actual.length}, expected ${expected.length}; ` +
      `actual ${hex(actual)}..., expected ${hex(expected)}...)`,
  );
}

/** PutObject with an explicit length (keeps the sdk from warning about bodies of unknown length). */
export async function putObject(s3: S3Fixture, bucket: string, key: string, body: Buffer): Promise<void> {
  await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
}

/** Uploads many objects with bounded concurrency (explicit lengths). */
export async function putObjects(s3: S3Fixture, bucket: string, objects: Iterable<[string, Buffer]>, concurrency = 16): Promise<void> {
  const queue = [...objects];
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const [key, body] = queue[next++];
      await putObject(s3, bucket, key, body);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Mount entries of the kernel's table (this process's namespace), read here rather than through src/. */
export function mountTable(): Array<{ source: string; target: string; type: string; options: string }> {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [source, target, type, options] = line.split(' ');
      return { source: unescape(source), target: unescape(target), type, options };
    });
}

export function mountAt(path: string): { source: string; target: string; type: string } | undefined {
  return mountTable().find((m) => m.target === path);
}

/** PIDs of live processes whose command line mentions text (e.g. a unique mountpoint). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The state letter of /proc/PID/stat (Z: a zombie, dead and not reaped yet); undefined once it is reaped. */
export function processState(pid: number): string | undefined {
  try {
    return /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/**
 * After a SIGKILL of a child: waits until the whole process is a zombie,
 * without giving the event loop a turn, since node reaps its children there.
 * Its main thread shows Z while its other threads may still be exiting (and
 * holding its files), so the zombie counts once it is the only thread left.
 */
export function waitForZombie(pid: number, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const dead = () => processState(pid) === 'Z' && threadsOf(pid) === 1;
  while (!dead()) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} is not a zombie after ${timeoutMs} ms: state ${processState(pid)}, ${threadsOf(pid)} threads`);
    Atomics.wait(pause, 0, 0, 5);
  }
}

function threadsOf(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return undefined;
  }
}

/** Bytes a process has written (to its sockets and files, /proc/PID/io wchar): for the origin, what S3 sent. */
export function bytesWrittenBy(pid: number): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until check() is truthy or the deadline passes; returns the last value. Bounded. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value || Date.now() >= deadline) return value;
    await sleep(intervalMs);
  }
}

/** Rejects with what's name when promise takes longer than ms. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True when a TCP connect to 127.0.0.1:port is refused (nobody listens). */
export function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** GET http://127.0.0.1:PORT/metrics as text. */
export function metricsText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics answered ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('metrics request timed out')));
    req.on('error', reject);
    req.end();
  });
}

export /** The value of one exact series (name and label set as printed), or undefined. */
function seriesValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The sum of every sample of a Prometheus series (all label sets) from http://127.0.0.1:PORT/metrics. */
export async function scrapeMetric(port: number, name: string): Promise<number> {
  const text = await metricsText(port);
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match && match[1] === name) {
      sum += Number(match[3]);
      found = true;
    }
  }
  if (!found) throw new Error(`metric ${name} not exported on port ${port}`);
  return sum;
}

/** Resolves with how a child ended; rejects after timeoutMs (the child is left to the caller). */
export function childExit(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return withTimeout(
    new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    timeoutMs,
    `pid ${child.pid} exit`,
  );
}

/** Kills a child the test started, by its PID, if it is still running. */
export async function killChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGKILL');
  await childExit(child, 5000).catch(() => {});
}
