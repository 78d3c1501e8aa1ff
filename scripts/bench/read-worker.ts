// A reader thread: plain blocking read(2) calls on the mount, as a training
// data loader does, checking every byte against the expected contents.
// Messages in: a ReadJob, later 'go'. Out: 'ready', then a ReadResult.
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

export type ReadJob =
  /** One file, sequentially, chunk bytes per read(2); timed from open to close. */
  | { kind: 'seq'; path: string; chunk: number; expected: SharedArrayBuffer }
  /** Whole files taken from a shared queue (counter[0] is the next index) until it is empty. */
  | { kind: 'files'; paths: string[]; fileBytes: number; expected: SharedArrayBuffer; counter: SharedArrayBuffer; chunk: number };

export interface ReadResult {
  bytes: number;
  files: number;
  seconds: number;
  /** Descriptions of content mismatches (at most a few). */
  mismatches: string[];
  error?: string;
}

const MAX_READS = 10_000_000;

function readWhole(path: string, buffer: Buffer, chunk: number, expected: Buffer, mismatches: string[]): number {
  const fd = openSync(path, 'r');
  let total = 0;
  try {
    for (let reads = 0; reads < MAX_READS; reads++) {
      const room = Math.min(chunk, buffer.length - total);
      const n = room > 0 ? readSync(fd, buffer, total, room, total) : 0;
      if (n === 0) break;
      total += n;
    }
  } finally {
    closeSync(fd);
  }
  if (total !== expected.length) mismatches.push(`${path}: ${total} bytes, expected ${expected.length}`);
  else if (!buffer.subarray(0, total).equals(expected)) mismatches.push(`${path}: contents differ`);
  return total;
}

function readSequential(path: string, chunk: number, expected: Buffer, mismatches: string[]): number {
  const buffer = Buffer.allocUnsafe(chunk);
  const fd = openSync(path, 'r');
  let total = 0;
  try {
    for (let reads = 0; reads < MAX_READS; reads++) {
      const n = readSync(fd, buffer, 0, chunk, total);
      if (n === 0) break;
      if (mismatches.length < 3 && !buffer.subarray(0, n).equals(expected.subarray(total, total + n))) {
        mismatches.push(`${path}: bytes differ in [${total}, ${total + n})`);
      }
      total += n;
    }
  } finally {
    closeSync(fd);
  }
  if (total !== expected.length) mismatches.push(`${path}: ${total} bytes, expected ${expected.length}`);
  return total;
}

let job: ReadJob | undefined;

parentPort!.on('message', (message: ReadJob | 'go') => {
  if (message !== 'go') {
    job = message;
    parentPort!.postMessage('ready');
    return;
  }
  const result: ReadResult = { bytes: 0, files: 0, seconds: 0, mismatches: [] };
  const start = process.hrtime.bigint();
  try {
    if (job!.kind === 'seq') {
      result.bytes = readSequential(job!.path, job!.chunk, Buffer.from(job!.expected), result.mismatches);
      result.files = 1;
    } else {
      const { paths, fileBytes, chunk } = job!;
      const counter = new Int32Array(job!.counter);
      const buffer = Buffer.allocUnsafe(fileBytes + 1);
      for (let guard = 0; guard < paths.length; guard++) {
        const index = Atomics.add(counter, 0, 1);
        if (index >= paths.length) break;
        const expected = Buffer.from(job!.expected, index * fileBytes, fileBytes);
        result.bytes += readWhole(paths[index], buffer, chunk, expected, result.mismatches);
        if (result.mismatches.length > 3) result.mismatches.length = 3;
        result.files++;
      }
    }
  } catch (err) {
    result.error = String((err as Error).message ?? err);
  }
  result.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  parentPort!.postMessage(result);
});
