// Runs the measurements of one mount's lifetime: cold state, a fresh mount,
// timed reads on it (at once again, or after a remount on the same cache
// directory), and what the daemon and the origin spent meanwhile.
import { join } from 'node:path';
import { BUCKET, warmFiles } from './dataset';
import { ForeignCpu, dropCaches, endProcess, ioBytes, owned, procStats, since, unmountAny, withTimeout } from './procs';
import type { Measure, Sample } from './report';
import type { Mountable, MountedTool } from './tools';

/**
 * fresh: cold state, then a new mount on a new cache directory;
 * again: the same mount at once, nothing dropped;
 * remount: unmount, cold state, mount again on the same cache directory.
 */
export type Step = 'fresh' | 'again' | 'remount';

/** A timed read of what is under a mountpoint. */
export type Read = (mountpoint: string) => Promise<{ value: number; seconds: number }>;

/** Reads on one cache directory, one sample per step; `origin` is the part of the origin's files read back in after a drop. */
export interface Flow {
  origin?: string;
  read: Read;
  steps: Array<[Step, Measure]>;
}

export interface SessionOptions {
  originDir: string;
  originPid: number;
  /** Files read back in after every drop: node, node_modules, dist. */
  programFiles: string[];
  /** Do not read the origin's files back in after a drop. */
  coldOrigin: boolean;
  measureTimeoutMs: number;
  /** The report's notes (a drop that is not permitted is noted there). */
  notes: Set<string>;
}

export class Session {
  constructor(private readonly o: SessionOptions) {}

  /**
   * Cold state: page cache dropped, then read back in: the programs that run
   * and, unless coldOrigin, the origin's own files under `origin`.
   */
  makeCold(origin?: string, programFiles: string[] = []): void {
    const why = dropCaches();
    if (why) this.o.notes.add(why);
    for (const path of [...this.o.programFiles, ...programFiles]) {
      try {
        warmFiles(path);
      } catch {
        // A file that cannot be read only stays cold.
      }
    }
    if (origin !== undefined && !this.o.coldOrigin) warmFiles(join(this.o.originDir, BUCKET, origin));
  }

  /** Runs the flow's steps in order; after a failed step the rest are not run. Always unmounts. */
  async run(tool: Mountable, flow: Flow): Promise<Array<[Measure, Sample]>> {
    const out: Array<[Measure, Sample]> = [];
    let mounted: MountedTool | undefined;
    let failed = false;
    try {
      for (const [step, measure] of flow.steps) {
        if (failed) {
          out.push([measure, { error: 'not run: an earlier step failed' }]);
          continue;
        }
        let mountSec: number | undefined;
        try {
          if (step !== 'again' || !mounted) {
            const reuse = step === 'remount' ? mounted?.dirs : undefined;
            const previous = mounted;
            mounted = undefined;
            await previous?.unmount(reuse !== undefined);
            owned.assertOpen();
            this.makeCold(flow.origin, tool.programFiles);
            const start = process.hrtime.bigint();
            mounted = await tool.mount(reuse);
            mountSec = since(start);
          }
        } catch (err) {
          out.push([measure, { error: `mount failed: ${(err as Error).message}` }]);
          failed = true;
          continue;
        }
        const sample = await this.sample(`${tool.name} ${measure}`, tool, mounted, flow.read, step === 'remount');
        sample.mountSec = mountSec;
        out.push([measure, sample]);
        failed = sample.error !== undefined;
      }
    } finally {
      await mounted?.unmount();
    }
    return out;
  }

  /**
   * One timed read on a live mount, with the daemon's CPU and peak RSS, the
   * origin's CPU and the bytes it sent, CPU used by anyone else, and (ownCount)
   * the tool's own count of S3 GET bytes, asked outside the timed part.
   */
  private async sample(label: string, tool: Mountable, mounted: MountedTool, read: Read, ownCount: boolean): Promise<Sample> {
    const { originPid } = this.o;
    const sample: Sample = {};
    const getBefore = ownCount ? await tool.s3GetBytes?.(mounted.mountpoint) : undefined;
    const foreign = new ForeignCpu(() => [mounted.pid, originPid]);
    try {
      foreign.begin();
      const before = procStats(mounted.pid);
      const originBefore = procStats(originPid);
      const sentBefore = ioBytes(originPid);
      const { value, seconds } = await withTimeout(label, this.o.measureTimeoutMs, read(mounted.mountpoint), async () => {
        // Unblock readers stuck on the mount: end its daemon, detach the mount.
        await endProcess(mounted.pid, 1000);
        await unmountAny(mounted.mountpoint);
      });
      const after = procStats(mounted.pid);
      const originAfter = procStats(originPid);
      const sentAfter = ioBytes(originPid);
      Object.assign(sample, { value, seconds, peakRssMiB: after?.peakRssMiB });
      if (before && after) sample.daemonCpuSec = after.cpuSec - before.cpuSec;
      if (originBefore && originAfter) sample.originCpuSec = originAfter.cpuSec - originBefore.cpuSec;
      if (sentBefore && sentAfter) sample.originSentBytes = sentAfter.written - sentBefore.written;
      sample.foreignCpuSec = foreign.end();
    } catch (err) {
      sample.error = (err as Error).message;
    }
    if (getBefore !== undefined && !sample.error) {
      const getAfter = await tool.s3GetBytes?.(mounted.mountpoint);
      if (getAfter !== undefined) sample.s3GetBytes = getAfter - getBefore;
    }
    return sample;
  }
}
