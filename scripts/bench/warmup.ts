// The warm-up measurements (issue 5): `cachalot warmup` of the big object
// through one standalone mount and through a three-node cluster on this
// machine, as MB/s of the object's bytes over the command's own seconds,
// beside the origin's own parallel-GET throughput measured in the same run.
import { runCli } from '../../tests/support/mount-fixture';
import type { ClusterBench } from './cluster';
import { OWNER_ARGS } from './cluster';
import { BUCKET, Dataset } from './dataset';
import { ioBytes } from './procs';
import { Ratio, Sample, medianOf, ratioOf, spread, table } from './report';
import type { Session } from './session';
import type { MountedTool, Tool, ToolContext } from './tools';

export const WARMUP_NODES = 3;

export interface WarmupSamples {
  standalone: Sample[];
  cluster: Sample[];
}

export function emptyWarmupSamples(): WarmupSamples {
  return { standalone: [], cluster: [] };
}

export class WarmupBench {
  constructor(
    private readonly ctx: ToolContext,
    private readonly session: Session,
    private readonly dataset: Dataset,
    private readonly originPid: number,
    private readonly cluster: ClusterBench,
  ) {}

  /** One round: a fresh mount, then a fresh cluster, each warming the big object from nothing. */
  async round(tool: Tool, out: WarmupSamples, progress: (line: string) => void): Promise<void> {
    const mounted: MountedTool[] = [];
    try {
      const mount = await tool.mount();
      mounted.push(mount);
      this.session.makeCold('big');
      out.standalone.push(await this.warm(['--mount', mount.mountpoint]));
      progress(`  warmup, one mount: ${describe(out.standalone.at(-1)!)}`);
      await mount.unmount();
      mounted.length = 0;

      const meta = await this.cluster.meta();
      for (let i = 0; i < WARMUP_NODES; i++) mounted.push(await this.cluster.node(`warm-${i}`, meta, OWNER_ARGS));
      await Promise.all(mounted.map((node) => this.cluster.waitForView(node.mountpoint, WARMUP_NODES)));
      this.session.makeCold('big');
      out.cluster.push(await this.warm(['--meta', meta, '--token-file', this.cluster.tokenFile]));
      progress(`  warmup, ${WARMUP_NODES}-node cluster: ${describe(out.cluster.at(-1)!)}`);
    } catch (err) {
      progress(`  warmup round failed: ${(err as Error).message}`);
      out.standalone.push({ error: (err as Error).message });
    } finally {
      for (const node of mounted.splice(0)) await node.unmount().catch(() => {});
    }
  }

  /** `cachalot warmup --json` of the big object; MB/s over the seconds it reports (listing included, process start not). */
  private async warm(where: string[]): Promise<Sample> {
    const sentBefore = ioBytes(this.originPid)?.written;
    const result = await runCli(['warmup', ...where, '--json', `s3://${BUCKET}/${this.dataset.bigKey}`], this.ctx.cachalotEnv, 600_000);
    if (result.code !== 0) return { error: `exit ${result.code}: ${result.stderr.trim().split('\n').pop()}` };
    const report = JSON.parse(result.stdout) as { bytes: number; seconds: number };
    const sentAfter = ioBytes(this.originPid)?.written;
    return {
      value: report.bytes / report.seconds / 1e6,
      seconds: report.seconds,
      originSentBytes: sentBefore !== undefined && sentAfter !== undefined ? sentAfter - sentBefore : undefined,
    };
  }
}

function describe(s: Sample): string {
  if (s.error) return `FAILED (${s.error})`;
  const sent = s.originSentBytes !== undefined ? `, origin sent ${(s.originSentBytes / 2 ** 20).toFixed(1)} MiB` : '';
  return `${s.value!.toFixed(0)} MB/s in ${s.seconds!.toFixed(1)} s${sent}`;
}

export function warmupTable(w: WarmupSamples, origin: Sample[]): string {
  return table(
    ['', 'MB/s'],
    [
      ['origin direct (the ceiling, same run)', spread(origin, 0)],
      ['`cachalot warmup --mount` (one daemon loads every block)', spread(w.standalone, 0)],
      [`\`cachalot warmup --meta\` (${WARMUP_NODES} nodes on this machine, each loads the blocks it owns)`, spread(w.cluster, 0)],
    ],
  );
}

export function warmupRatios(w: WarmupSamples, origin: Sample[]): Ratio[] {
  return [
    ratioOf('cachalot warmup (one mount) / origin direct', medianOf(w.standalone), medianOf(origin), ['>=', 0.9], 'MB/s'),
    ratioOf(`cachalot warmup (${WARMUP_NODES}-node cluster) / origin direct`, medianOf(w.cluster), medianOf(origin), ['>=', 0.9], 'MB/s'),
  ];
}
