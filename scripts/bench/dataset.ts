// The benchmark's dataset: generated once per run into shared memory (so that
// reader threads can check every byte they read), seeded into the origin once.
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomFillSync } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readSync, readdirSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const BUCKET = 'bench';
export const MiB = 2 ** 20;
export const KiB = 2 ** 10;

export interface DatasetShape {
  bigBytes: number;
  smallCount: number;
  smallBytes: number;
  listCount: number;
}

export const FULL_SHAPE: DatasetShape = { bigBytes: 512 * MiB, smallCount: 1000, smallBytes: 100 * KiB, listCount: 2000 };

export interface Dataset {
  shape: DatasetShape;
  bigKey: string;
  /** The big object's bytes. */
  big: SharedArrayBuffer;
  smallKeys: string[];
  /** All small objects back to back, smallBytes each. */
  small: SharedArrayBuffer;
  listPrefix: string;
  listKeys: string[];
}

const pad = (i: number) => String(i).padStart(4, '0');

export function makeDataset(shape: DatasetShape): Dataset {
  const big = new SharedArrayBuffer(shape.bigBytes);
  fillRandom(Buffer.from(big));
  const small = new SharedArrayBuffer(shape.smallCount * shape.smallBytes);
  fillRandom(Buffer.from(small));
  return {
    shape,
    bigKey: `big/seq-${shape.bigBytes / MiB}MiB.bin`,
    big,
    smallKeys: Array.from({ length: shape.smallCount }, (_, i) => `small/img-${pad(i)}.bin`),
    small,
    listPrefix: 'listing',
    listKeys: Array.from({ length: shape.listCount }, (_, i) => `listing/entry-${pad(i)}.txt`),
  };
}

/** randomFillSync takes at most 2 GiB a call; go in 64 MiB steps. */
function fillRandom(buffer: Buffer): void {
  for (let at = 0; at < buffer.length; at += 64 * MiB) randomFillSync(buffer, at, Math.min(64 * MiB, buffer.length - at));
}

export function smallObject(dataset: Dataset, index: number): Buffer {
  const { smallBytes } = dataset.shape;
  return Buffer.from(dataset.small, index * smallBytes, smallBytes);
}

/** Uploads the dataset with bounded concurrency (the origin is empty: fresh directory). */
export async function seedDataset(client: S3Client, dataset: Dataset): Promise<void> {
  const put = (key: string, body: Buffer) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  await put(dataset.bigKey, Buffer.from(dataset.big));
  const jobs: Array<() => Promise<unknown>> = [
    ...dataset.smallKeys.map((key, i) => () => put(key, smallObject(dataset, i))),
    ...dataset.listKeys.map((key, i) => () => put(key, Buffer.from(`entry ${i}\n`))),
  ];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/**
 * Writes the big object and the small ones as plain local files under dir (at
 * their keys), flushed to disk: what this machine's filesystem gives readers,
 * cold and from the page cache.
 */
export function writePlainCopy(dir: string, dataset: Dataset): void {
  writePlainFile(join(dir, dataset.bigKey), Buffer.from(dataset.big));
  dataset.smallKeys.forEach((key, i) => writePlainFile(join(dir, key), smallObject(dataset, i)));
}

function writePlainFile(path: string, bytes: Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, Math.min(64 * MiB, bytes.length - at));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the files under dir (or the file dir) into the page cache, after the
 * caches were dropped: the origin's backing files, so that every tool meets
 * the same warm origin and the figures measure the client rather than this
 * machine's disk; and the programs that run (node, rclone, s3fs), whose pages
 * a drop evicts as well.
 */
export function warmFiles(dir: string): number {
  let bytes = 0;
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    // A single file (an executable, a library).
    const fd = openSync(dir, 'r');
    const buffer = Buffer.allocUnsafe(8 * MiB);
    try {
      for (let n = 1, guard = 0; n > 0 && guard < 1e6; guard++) bytes += n = readSync(fd, buffer, 0, buffer.length, null);
    } finally {
      closeSync(fd);
    }
    return bytes;
  }
  const buffer = Buffer.allocUnsafe(8 * MiB);
  const walk = (path: string, depth: number) => {
    if (depth > 16) return;
    for (const name of readdirSync(path)) {
      const child = join(path, name);
      const st = statSync(child);
      if (st.isDirectory()) {
        walk(child, depth + 1);
        continue;
      }
      const fd = openSync(child, 'r');
      try {
        for (let n = 1, guard = 0; n > 0 && guard < 1e6; guard++) {
          n = readSync(fd, buffer, 0, buffer.length, null);
          bytes += n;
        }
      } finally {
        closeSync(fd);
      }
    }
  };
  walk(dir, 0);
  return bytes;
}
