// The cluster measurements (issue 4), on this one machine over loopback:
// a node reading blocks that another node's NVMe tier holds, side by side
// with that node's own warm read of them; and what S3 sends when 1, 2 and 3
// nodes read the same data at once.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runCli } from '../../tests/support/mount-fixture';
import { BUCKET, Dataset } from './dataset';
import { seqRead } from './measure';
import { endProcess, ioBytes, owned, procStats, sleep, track, withTimeout } from './procs';
import type { Sample } from './report';
import type { Session } from './session';
import { freshDirs, spawnFuseDaemon, type MountDirs, type MountedTool, type ToolContext } from './tools';

const MAIN = resolve(__dirname, '../../daemon/cli-main.js');
/** The owner holds the whole dataset on its NVMe tier; its weight makes it the owner of nearly every block. */
export const OWNER_ARGS = ['--disk-cache', '4GiB'];
/**
 * The asker serves no peers (no --peer-listen), so it owns no block and asks
 * the owner for every one; its settings are the defaults, as the owner's
 * warm read had them.
 */
export const ASKER_ARGS: string[] = [];
export const CLUSTER_SIZES = [1, 2, 3];

export interface ClusterSamples {
  /** The owner reading the dataset through its own mount from its NVMe tier (remounted, page cache dropped), MB/s. */
  ownerWarm: Sample[];
  /** Another node reading it, every block asked of the owner, MB/s; daemonCpuSec is the asker's, ownerCpuSec the owner's. */
  peer: Array<Sample & { ownerCpuSec?: number }>;
  /** n nodes reading it at once, all from a cold cluster: value = bytes S3 sent / dataset bytes. */
  s3Traffic: Map<number, Sample[]>;
}

export function emptyClusterSamples(): ClusterSamples {
  return { ownerWarm: [], peer: [], s3Traffic: new Map(CLUSTER_SIZES.map((n) => [n, []])) };
}

/** A metadata service and the nodes that join it, each a foreground daemon of ours. */
export class ClusterBench {
  private metaAddress?: string;
  readonly tokenFile: string;
  private readonly dataDir: string;

  constructor(
    private readonly ctx: ToolContext,
    private readonly session: Session,
    private readonly dataset: Dataset,
    private readonly originPid: number,
    private readonly measureTimeoutMs: number,
  ) {
    const dir = join(ctx.workDir, 'cluster');
    mkdirSync(dir, { recursive: true });
    this.tokenFile = join(dir, 'token');
    this.dataDir = join(dir, 'meta');
    writeFileSync(this.tokenFile, 'bench-cluster-secret-0123456789\n', { mode: 0o600 });
  }

  /** One round of every cluster measurement; a failure is recorded in the samples, not thrown. */
  async round(out: ClusterSamples, progress: (line: string) => void): Promise<void> {
    const meta = await this.meta();
    const nodes: MountedTool[] = [];
    const unmountAll = async () => {
      for (const node of nodes.splice(0)) await node.unmount().catch(() => {});
    };
    try {
      // Fill: the owner, alone in the cluster, owns every block and reads them all from S3.
      let owner = await this.node('owner', meta, OWNER_ARGS);
      nodes.push(owner);
      await this.waitForView(owner.mountpoint, 1);
      await seqRead(owner.mountpoint, this.dataset);
      // Its own warm read: mounted again on its cache directory (RAM tier empty), page cache dropped.
      owner = await this.remount(nodes, owner, 'owner', meta, OWNER_ARGS);
      this.session.makeCold('big');
      const warm = await this.timed('owner warm', [owner.pid], () => seqRead(owner.mountpoint, this.dataset));
      out.ownerWarm.push(warm);
      progress(`  cluster owner warm: ${describe(warm)}`);
      // The peer read: the owner again with an empty RAM tier, and a fresh node that asks it for every block.
      owner = await this.remount(nodes, owner, 'owner', meta, OWNER_ARGS);
      const asker = await this.node('asker', meta, ASKER_ARGS, undefined, false);
      nodes.push(asker);
      await Promise.all([this.waitForView(owner.mountpoint, 2), this.waitForView(asker.mountpoint, 2)]);
      this.session.makeCold('big');
      const peer = await this.timed('peer read', [asker.pid, owner.pid], () => seqRead(asker.mountpoint, this.dataset));
      out.peer.push(peer);
      progress(`  cluster peer read: ${describe(peer)}`);
      await unmountAll();
      for (const n of CLUSTER_SIZES) {
        for (let i = 0; i < n; i++) nodes.push(await this.node(`node-${i}`, meta, OWNER_ARGS));
        await Promise.all(nodes.map((node) => this.waitForView(node.mountpoint, n)));
        this.session.makeCold('big');
        const pids = nodes.map((node) => node.pid);
        const sample = await this.timed(`${n} nodes`, pids, () => Promise.all(nodes.map((node) => seqRead(node.mountpoint, this.dataset))));
        if (sample.originSentBytes !== undefined) sample.value = sample.originSentBytes / this.dataset.shape.bigBytes;
        out.s3Traffic.get(n)!.push(sample);
        progress(`  cluster ${n} node(s) reading at once: S3 sent ${sample.value?.toFixed(2) ?? 'n/a'}x the data${sample.error ? ` (${sample.error})` : ''}`);
        await unmountAll();
      }
    } catch (err) {
      progress(`  cluster round failed: ${(err as Error).message}`);
      out.peer.push({ error: (err as Error).message });
    } finally {
      await unmountAll();
    }
  }

  /** A timed read with the CPU of the given daemons (the first is the reader's) and the bytes the origin sent. */
  private async timed(label: string, pids: number[], read: () => Promise<unknown>): Promise<Sample & { ownerCpuSec?: number }> {
    const cpu = () => pids.map((pid) => procStats(pid)?.cpuSec ?? NaN);
    const before = cpu();
    const sentBefore = ioBytes(this.originPid)?.written;
    const start = process.hrtime.bigint();
    try {
      const result = await withTimeout(label, this.measureTimeoutMs, read(), async () => {
        for (const pid of pids) await endProcess(pid, 1000);
      });
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const after = cpu();
      const sentAfter = ioBytes(this.originPid)?.written;
      const bytes = Array.isArray(result) ? this.dataset.shape.bigBytes * result.length : this.dataset.shape.bigBytes;
      return {
        value: bytes / seconds / 1e6,
        seconds,
        daemonCpuSec: after[0] - before[0],
        ownerCpuSec: pids.length > 1 ? after[1] - before[1] : undefined,
        originSentBytes: sentBefore !== undefined && sentAfter !== undefined ? sentAfter - sentBefore : undefined,
      };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }

  /** The metadata service of the bench's clusters, started on first use. */
  async meta(): Promise<string> {
    return (this.metaAddress ??= await this.startMeta());
  }

  /** The node unmounted and mounted again on its directories: its disk tier kept, its RAM tier empty. */
  private async remount(nodes: MountedTool[], node: MountedTool, id: string, meta: string, args: string[]): Promise<MountedTool> {
    nodes.splice(nodes.indexOf(node), 1);
    await node.unmount(true);
    const again = await this.node(id, meta, args, node.dirs);
    nodes.push(again);
    return again;
  }

  /** A node; one that does not serve peers is a member that owns no block. */
  node(id: string, meta: string, args: string[], dirs?: MountDirs, servesPeers = true): Promise<MountedTool> {
    const d = dirs ?? freshDirs(this.ctx, `cluster-${id}`);
    const cluster = ['--meta', meta, '--node-id', id, ...(servesPeers ? ['--peer-listen', '127.0.0.1:0'] : []), '--token-file', this.tokenFile];
    const argv = [MAIN, 'mount', `s3://${BUCKET}`, d.mountpoint, '--cache-dir', d.cacheDir, '--log-level', 'warn', '--foreground', ...cluster, ...args];
    return spawnFuseDaemon(`cachalot node ${id}`, process.execPath, argv, this.ctx.cachalotEnv, d);
  }

  /** Until the node's own view of the cluster (`cachalot stats --json`) has n members: placement follows it. */
  async waitForView(mountpoint: string, n: number): Promise<void> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const result = await runCli(['stats', mountpoint, '--json'], this.ctx.cachalotEnv, 10_000);
      try {
        if ((JSON.parse(result.stdout) as { cluster?: { members: unknown[] } }).cluster?.members.length === n) return;
      } catch {
        // Not answering yet.
      }
      await sleep(100);
    }
    throw new Error(`the node at ${mountpoint} did not see ${n} members within 20 s`);
  }

  private async startMeta(): Promise<string> {
    owned.assertOpen();
    const child = spawn(process.execPath, [MAIN, 'meta', '--listen', '127.0.0.1:0', '--data-dir', this.dataDir, '--token-file', this.tokenFile, '--log-level', 'warn'], {
      env: this.ctx.cachalotEnv,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    track(child);
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    for (let attempt = 0; attempt < 150; attempt++) {
      const address = /meta listening on (127\.0\.0\.1:\d+)/.exec(output)?.[1];
      if (address) return address;
      if (child.exitCode !== null) break;
      await sleep(100);
    }
    throw new Error(`cachalot meta did not start: ${output.trim().split('\n').pop() ?? ''}`);
  }
}

function describe(s: Sample & { ownerCpuSec?: number }): string {
  if (s.error) return `FAILED (${s.error})`;
  const owner = s.ownerCpuSec !== undefined ? `, owner cpu ${s.ownerCpuSec.toFixed(1)} s` : '';
  const sent = s.originSentBytes !== undefined ? `, origin sent ${(s.originSentBytes / 2 ** 20).toFixed(1)} MiB` : '';
  return `${s.value!.toFixed(0)} MB/s, reader cpu ${s.daemonCpuSec?.toFixed(1)} s${owner}${sent}`;
}
