// The measurements themselves. Each takes a path on a mount (or the origin)
// and returns absolute figures; the caller handles mounting and cold state.
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { BUCKET, Dataset, MiB } from './dataset';
import { since, track } from './procs';
import type { ReadJob, ReadResult } from './read-worker';

const WORKER = join(__dirname, 'read-worker.js');

export interface SeqResult {
  bytes: number;
  seconds: number;
  mbps: number;
}

export interface FilesResult {
  files: number;
  bytes: number;
  seconds: number;
  filesPerSec: number;
}

export interface LsResult {
  entries: number;
  seconds: number;
}

/**
 * Runs reader threads: each gets its job, reports ready, then all start at
 * once; resolves with their results and the wall time from start to the last
 * one done. Any error or byte mismatch rejects.
 */
async function runReaders(jobs: ReadJob[]): Promise<{ results: ReadResult[]; seconds: number }> {
  const workers = jobs.map(() => new Worker(WORKER));
  try {
    const ready = workers.map(
      (w, i) =>
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
          w.postMessage(jobs[i]);
        }),
    );
    await Promise.all(ready);
    const done = workers.map(
      (w) =>
        new Promise<ReadResult>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`reader thread exited (${code})`)));
        }),
    );
    const start = process.hrtime.bigint();
    for (const w of workers) w.postMessage('go');
    const results = await Promise.all(done);
    const seconds = since(start);
    const problems = results.flatMap((r) => [...(r.error ? [r.error] : []), ...r.mismatches]);
    if (problems.length > 0) throw new Error(`read failed: ${problems.slice(0, 3).join('; ')}`);
    return { results, seconds };
  } finally {
    // A thread blocked in read(2) on a dead mount ends once the mount is gone (the caller's timeout sees to that).
    for (const w of workers) void w.terminate();
  }
}

/**
 * The big file read whole by `readers` threads at once, each one stream of
 * `chunk`-byte (1 MiB) read(2) calls from start to end. One reader: timed from its open to
 * its close; several: all bytes over the wall time until the last is done.
 */
export async function seqRead(mountpoint: string, dataset: Dataset, readers = 1, chunk = MiB): Promise<SeqResult> {
  const path = join(mountpoint, dataset.bigKey);
  const job: ReadJob = { kind: 'seq', path, chunk, expected: dataset.big };
  const { results, seconds: wall } = await runReaders(Array.from({ length: readers }, () => job));
  const bytes = results.reduce((n, r) => n + r.bytes, 0);
  const seconds = readers === 1 ? results[0].seconds : wall;
  return { bytes, seconds, mbps: bytes / seconds / 1e6 };
}

/** All small files, whole, by `readers` threads sharing one queue. */
export async function smallFiles(mountpoint: string, dataset: Dataset, readers = 8): Promise<FilesResult> {
  const paths = dataset.smallKeys.map((key) => join(mountpoint, key));
  const counter = new SharedArrayBuffer(4);
  const job: ReadJob = { kind: 'files', paths, fileBytes: dataset.shape.smallBytes, expected: dataset.small, counter, chunk: MiB };
  const { results, seconds } = await runReaders(Array.from({ length: readers }, () => job));
  const files = results.reduce((n, r) => n + r.files, 0);
  const bytes = results.reduce((n, r) => n + r.bytes, 0);
  if (files !== paths.length) throw new Error(`read ${files} of ${paths.length} files`);
  return { files, bytes, seconds, filesPerSec: files / seconds };
}

/** `ls -l DIR` as a child process, timed from spawn to exit; checks that every entry is there. */
export function lsLong(dir: string, expectedEntries: number, timeoutMs: number): Promise<LsResult> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn('ls', ['-l', dir], { env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const seconds = since(start);
      clearTimeout(timer);
      const entries = out.split('\n').filter((line) => /^[-dl]/.test(line)).length;
      if (code !== 0) return reject(new Error(`ls -l exited (${signal ?? code}): ${err.trim().split('\n')[0]}`));
      if (entries !== expectedEntries) return reject(new Error(`ls -l listed ${entries} entries, expected ${expectedEntries}`));
      resolve({ entries, seconds });
    });
  });
}

/** Fetches bytes [start, end) of the big object from the origin. */
export type RangeFetcher = (start: number, end: number) => Promise<Buffer>;

/** Ranged GetObject through the aws-sdk, the body gathered chunk by chunk as an sdk user would. */
export function sdkRangeFetcher(client: S3Client, key: string): RangeFetcher {
  return async (start, end) => {
    const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: `bytes=${start}-${end - 1}` }));
    const target = Buffer.allocUnsafe(end - start);
    let filled = 0;
    for await (const chunk of out.Body as AsyncIterable<Uint8Array>) {
      if (filled + chunk.length > target.length) throw new Error(`range ${start}: server sent too much`);
      target.set(chunk, filled);
      filled += chunk.length;
    }
    if (filled !== target.length) throw new Error(`range ${start}: got ${filled} of ${target.length} bytes`);
    return target;
  };
}

// V8's collector, callable without starting node with --expose-gc.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * The ceiling for a cold read: the big object fetched straight from the
 * origin with parallel ranged GETs, every byte checked.
 */
export async function originDirect(fetch: RangeFetcher, dataset: Dataset, rangeBytes: number, parallel: number): Promise<SeqResult> {
  const size = dataset.shape.bigBytes;
  const expected = Buffer.from(dataset.big);
  const ranges = Math.ceil(size / rangeBytes);
  let next = 0;
  let bytes = 0;
  const fetchOne = async (index: number) => {
    const start = index * rangeBytes;
    const end = Math.min(size, start + rangeBytes);
    const target = await fetch(start, end);
    if (!target.equals(expected.subarray(start, end))) throw new Error(`range ${start}: wrong bytes`);
    bytes += target.length;
  };
  const worker = async () => {
    for (let guard = 0; guard < ranges; guard++) {
      const index = next++;
      if (index >= ranges) return;
      await fetchOne(index);
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds = since(start);
  // The 512 MiB of ranges read are garbage now: freed here, outside any
  // measurement, not whenever V8 next collects, which may be during the
  // next one (the warm-up after its origin read was 5 of 5 rounds slower
  // than the daemon's first; on this VM freed memory goes back to the host).
  collectGarbage();
  return { bytes, seconds, mbps: bytes / seconds / 1e6 };
}
