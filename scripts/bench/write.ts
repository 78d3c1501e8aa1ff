// Sequential writes (issue 19): a 2 GiB file written through each tool's
// mount with `dd bs=1M` (the source a local file in the page cache), timed
// until the object is whole in S3 (cachalot's close returns then; other
// tools may upload after close, so the clock runs until the key has the
// file's size), beside the origin written directly by one process: a
// parallel multipart upload of the same file with cachalot's S3 client.
// Each object is checked (size, and sampled ranges against the source) and
// deleted before the next, so that the origin's disk holds one at a time.
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { promisify } from 'node:util';
import type { S3Store } from '../../src/object/s3-store';
import { BUCKET, MiB, warmFiles } from './dataset';
import { procStats, since, sleep } from './procs';
import { Ratio, Sample, medianOf, ratioOf, spread, table } from './report';
import type { Session } from './session';
import type { Tool } from './tools';

const exec = promisify(execFile);

export const WRITE_BYTES = 2 * 1024 * MiB;
/** The origin written directly: parts and uploads in flight. */
const ORIGIN_PART = 16 * MiB;
const ORIGIN_PARALLEL = 16;
const KEY = 'written/2GiB.bin';

export interface WriteSamples {
  origin: Sample[];
  /** By tool name. */
  tools: Record<string, Sample[]>;
}

export class WriteBench {
  private readonly source: string;

  constructor(
    workDir: string,
    private readonly session: Session,
    private readonly client: S3Client,
    private readonly store: S3Store,
  ) {
    this.source = join(workDir, 'write-source.bin');
    writeRandomFile(this.source, WRITE_BYTES);
  }

  async round(tools: Tool[], out: WriteSamples, progress: (line: string) => void): Promise<void> {
    out.origin.push(await this.measure(() => this.writeDirect()));
    progress(`  write, origin direct: ${describe(out.origin.at(-1)!)}`);
    for (const tool of tools) {
      const mounted = await tool.mount();
      try {
        const before = procStats(mounted.pid);
        const sample = await this.measure(() => this.writeThrough(mounted.mountpoint));
        const after = procStats(mounted.pid);
        if (before && after) Object.assign(sample, { daemonCpuSec: after.cpuSec - before.cpuSec, peakRssMiB: after.peakRssMiB });
        (out.tools[tool.name] ??= []).push(sample);
        progress(`  write, ${tool.name}: ${describe(sample)}`);
      } finally {
        await mounted.unmount();
      }
    }
  }

  /** One timed write: the source warm in the page cache first, the object checked and deleted after. */
  private async measure(write: () => Promise<void>): Promise<Sample> {
    this.session.makeCold();
    warmFiles(this.source);
    const start = process.hrtime.bigint();
    try {
      await write();
      const seconds = since(start);
      await this.check();
      return { value: WRITE_BYTES / seconds / 1e6, seconds };
    } catch (err) {
      return { error: (err as Error).message };
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: KEY })).catch(() => undefined);
    }
  }

  private async writeDirect(): Promise<void> {
    const uploadId = await this.store.createMultipartUpload(KEY);
    const parts: Array<{ partNumber: number; etag: string }> = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i * ORIGIN_PART < WRITE_BYTES; i = next++) {
        const start = i * ORIGIN_PART;
        const { etag } = await this.store.uploadPart({ key: KEY, uploadId, partNumber: i + 1, body: { path: this.source, start, end: Math.min(WRITE_BYTES, start + ORIGIN_PART) } });
        parts.push({ partNumber: i + 1, etag });
      }
    };
    await Promise.all(Array.from({ length: ORIGIN_PARALLEL }, worker));
    await this.store.completeMultipartUpload({ key: KEY, uploadId, parts: parts.sort((a, b) => a.partNumber - b.partNumber) });
  }

  private async writeThrough(mountpoint: string): Promise<void> {
    await exec('mkdir', ['-p', join(mountpoint, 'written')]);
    await exec('dd', [`if=${this.source}`, `of=${join(mountpoint, KEY)}`, 'bs=1M', 'status=none'], { timeout: 600_000 });
    // A tool that uploads after close: the clock runs until the key is whole.
    for (let polls = 0; polls < 6000; polls++) {
      const size = await this.client
        .send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }))
        .then((head) => head.ContentLength, () => undefined);
      if (size === WRITE_BYTES) return;
      await sleep(100);
    }
    throw new Error(`${KEY} did not reach S3 whole within 10 minutes of the close`);
  }

  /** The object's size, and 16 ranges of it against the source. */
  private async check(): Promise<void> {
    const head = await this.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }));
    if (head.ContentLength !== WRITE_BYTES) throw new Error(`${KEY}: ${head.ContentLength} bytes in S3, ${WRITE_BYTES} written`);
    const fd = openSync(this.source, 'r');
    try {
      for (let i = 0; i < 16; i++) {
        const start = Math.floor(((i + 0.37) / 16) * (WRITE_BYTES - MiB));
        const out = await this.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY, Range: `bytes=${start}-${start + MiB - 1}` }));
        const got = Buffer.from(await out.Body!.transformToByteArray());
        const want = Buffer.alloc(MiB);
        readSync(fd, want, 0, MiB, start);
        if (!got.equals(want)) throw new Error(`${KEY}: bytes at ${start} differ from what was written`);
      }
    } finally {
      closeSync(fd);
    }
  }
}

function writeRandomFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.allocUnsafe(64 * MiB);
  try {
    for (let at = 0; at < bytes; at += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - at), at);
    }
  } finally {
    closeSync(fd);
  }
}

function describe(s: Sample): string {
  if (s.error) return `FAILED (${s.error})`;
  const cpu = s.daemonCpuSec !== undefined ? `, daemon cpu ${s.daemonCpuSec.toFixed(1)} s, peak RSS ${s.peakRssMiB?.toFixed(0)} MiB` : '';
  return `${s.value!.toFixed(0)} MB/s in ${s.seconds!.toFixed(1)} s${cpu}`;
}

export function emptyWriteSamples(): WriteSamples {
  return { origin: [], tools: {} };
}

export function writeTable(w: WriteSamples): string {
  return table(
    ['2 GiB written sequentially (`dd bs=1M`, until whole in S3)', 'MB/s', 'daemon CPU, s', 'daemon peak RSS, MiB'],
    [
      [`origin direct (one process, ${ORIGIN_PART / MiB} MiB parts x ${ORIGIN_PARALLEL} in flight, from the file)`, spread(w.origin, 0), '', ''],
      ...Object.entries(w.tools).map(([name, samples]) => [name, spread(samples, 0), fmtMedian(samples, (s) => s.daemonCpuSec, 1), fmtMax(samples)]),
    ],
  );
}

const fmtMedian = (samples: Sample[], pick: (s: Sample) => number | undefined, digits: number) => medianOf(samples, pick)?.toFixed(digits) ?? 'n/a';
const fmtMax = (samples: Sample[]) => {
  const values = samples.map((s) => s.peakRssMiB).filter((v): v is number => v !== undefined);
  return values.length ? Math.max(...values).toFixed(0) : 'n/a';
};

/** Issue 19's targets: 0.8x the origin written directly, at least the best of s3fs and rclone, RSS within the budget + 200 MiB. */
export function writeRatios(w: WriteSamples, ramBudgetMiB: number): Ratio[] {
  const c = medianOf(w.tools.cachalot ?? []);
  const others = ['rclone', 's3fs'].map((name) => ({ name, v: medianOf(w.tools[name] ?? []) })).filter((o) => o.v !== undefined);
  const best = others.sort((a, b) => b.v! - a.v!)[0];
  const rss = Math.max(...(w.tools.cachalot ?? []).map((s) => s.peakRssMiB ?? 0));
  const bound = ramBudgetMiB + 200;
  return [
    ratioOf('cachalot sequential write / origin written directly', c, medianOf(w.origin), ['>=', 0.8], 'MB/s'),
    ratioOf(`cachalot sequential write / best of rclone, s3fs${best ? ` (${best.name})` : ''}`, c, best?.v, ['>=', 1.0], 'MB/s'),
    { name: 'cachalot daemon peak RSS during the write', value: rss, unit: 'MiB', target: `<= ${bound} MiB`, met: rss > 0 ? rss <= bound : undefined, detail: `${rss.toFixed(0)} vs ${bound} MiB (the RAM budget + 200)` },
  ];
}
