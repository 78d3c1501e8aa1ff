// The warm-up measurements (issue 5): `cachalot warmup` of the big object
// through one standalone mount and through a three-node cluster on this
// machine, as MB/s of the object's bytes over the command's own seconds,
// beside the origin's own parallel-GET throughput measured in the same run.
//
// The origin-direct client reads the object once unrecorded before the first
// round, so that no round measures its JIT warm-up; its process lives through
// the run. The daemons are measured the same way: each warms the object up
// once (recorded apart, as a node started just before a job meets it), and
// after `cachalot evict` the next warm-ups are the ones compared with the
// origin, each with the origin read directly just before it: this VM's speed
// drifts by up to 2x over minutes, and in a full run the round's own
// origin-direct reads come minutes before its warm-ups. A fresh daemon's
// first warm-up also pays V8 compiling its code and first touches of its
// buffer pool, which on this VM cost 2.3 us a page (docs/BENCHMARKS.md,
// "Findings").
import { runCli } from '../../tests/support/mount-fixture';
import type { ClusterBench } from './cluster';
import { OWNER_ARGS } from './cluster';
import { BUCKET, Dataset } from './dataset';
import { ioBytes } from './procs';
import { Ratio, Sample, medianOf, ratioOf, spread, table } from './report';
import type { Session } from './session';
import type { MountedTool, Tool, ToolContext } from './tools';

export const WARMUP_NODES = 3;
/**
 * Measured warm-ups of each daemon per round, each after its own origin
 * read: a pair takes seconds, while the rounds of this VM swing by more than
 * the gap being measured (docs/BENCHMARKS.md, "Findings").
 */
const PAIRS_PER_ROUND = 3;

/** One mount and a cluster, each warming the object up from an empty cache. */
export interface WarmupRows {
  standalone: Sample[];
  cluster: Sample[];
}

export interface WarmupSamples {
  /** The daemons' first warm-up after they started. */
  first: WarmupRows;
  /** The same daemons' next ones, each after `cachalot evict`: the measure. */
  next: WarmupRows;
  /** The origin read directly just before each of `next`'s samples. */
  origin: WarmupRows;
}

export function emptyWarmupSamples(): WarmupSamples {
  const rows = (): WarmupRows => ({ standalone: [], cluster: [] });
  return { first: rows(), next: rows(), origin: rows() };
}

/** The origin read directly as the warm-up's yardstick (cachalot's GET, 16 MiB x 8: a warm-up's own GETs in flight). */
export type OriginRead = () => Promise<Sample>;

export class WarmupBench {
  constructor(
    private readonly ctx: ToolContext,
    private readonly session: Session,
    private readonly dataset: Dataset,
    private readonly originPid: number,
    private readonly cluster: ClusterBench,
    private readonly readOrigin: OriginRead,
  ) {}

  /** One round: a fresh mount, then a fresh cluster, each warming the big object from nothing, first and again. */
  async round(tool: Tool, out: WarmupSamples, progress: (line: string) => void): Promise<void> {
    const mounted: MountedTool[] = [];
    try {
      const mount = await tool.mount();
      mounted.push(mount);
      await this.repeatedly(['--mount', mount.mountpoint], 'standalone', out, (line) => progress(`  warmup, one mount, ${line}`));
      await mount.unmount();
      mounted.length = 0;

      const meta = await this.cluster.meta();
      for (let i = 0; i < WARMUP_NODES; i++) mounted.push(await this.cluster.node(`warm-${i}`, meta, OWNER_ARGS));
      await Promise.all(mounted.map((node) => this.cluster.waitForView(node.mountpoint, WARMUP_NODES)));
      await this.repeatedly(['--meta', meta, '--token-file', this.cluster.tokenFile], 'cluster', out, (line) => progress(`  warmup, ${WARMUP_NODES}-node cluster, ${line}`));
    } catch (err) {
      progress(`  warmup round failed: ${(err as Error).message}`);
      out.next.standalone.push({ error: (err as Error).message });
    } finally {
      for (const node of mounted.splice(0)) await node.unmount().catch(() => {});
    }
  }

  /** The object warmed up from an empty cache; then, PAIRS_PER_ROUND times, evicted (everywhere), read directly, and warmed up again. */
  private async repeatedly(where: string[], row: keyof WarmupRows, out: WarmupSamples, progress: (line: string) => void): Promise<void> {
    this.session.makeCold('big');
    out.first[row].push(await this.warm(where));
    progress(`first: ${describe(out.first[row].at(-1)!)}`);
    for (let pair = 0; pair < PAIRS_PER_ROUND; pair++) {
      const evicted = await runCli(['evict', ...where, this.target()], this.ctx.cachalotEnv, 600_000);
      if (evicted.code !== 0) throw new Error(`cachalot evict: exit ${evicted.code}: ${evicted.stderr.trim().split('\n').pop()}`);
      this.session.makeCold('big');
      out.origin[row].push(await this.readOrigin());
      this.session.makeCold('big');
      out.next[row].push(await this.warm(where));
      progress(`next: ${describe(out.next[row].at(-1)!)}, origin direct just before: ${describe(out.origin[row].at(-1)!)}`);
    }
  }

  private target(): string {
    return `s3://${BUCKET}/${this.dataset.bigKey}`;
  }

  /** `cachalot warmup --json` of the big object; MB/s over the seconds it reports (listing included, process start not). */
  private async warm(where: string[]): Promise<Sample> {
    const sentBefore = ioBytes(this.originPid)?.written;
    const result = await runCli(['warmup', ...where, '--json', this.target()], this.ctx.cachalotEnv, 600_000);
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
    ['', 'MB/s, the daemons\' first warm-up', `MB/s, their next ${PAIRS_PER_ROUND} a round (each after evict)`, 'MB/s, origin direct just before each of those'],
    [
      ['origin direct (the ceiling: its best configuration, at the start of each round)', '', spread(origin, 0), ''],
      ['`cachalot warmup --mount` (one daemon loads every block)', spread(w.first.standalone, 0), spread(w.next.standalone, 0), spread(w.origin.standalone, 0)],
      [
        `\`cachalot warmup --meta\` (${WARMUP_NODES} nodes on this machine, each loads the blocks it owns)`,
        spread(w.first.cluster, 0),
        spread(w.next.cluster, 0),
        spread(w.origin.cluster, 0),
      ],
    ],
  );
}

/**
 * Each warm-up against the origin read directly just before it, at the
 * warm-up's own GETs in flight; for the record, the first warm-ups, and the
 * warm-ups against the ceiling (the best origin-direct configuration, more
 * GETs in flight among them).
 */
export function warmupRatios(w: WarmupSamples, ceiling: Sample[]): Ratio[] {
  const [standalone, cluster] = [medianOf(w.origin.standalone), medianOf(w.origin.cluster)];
  return [
    ratioOf('cachalot warmup (one mount) / origin direct just before', medianOf(w.next.standalone), standalone, ['>=', 0.9], 'MB/s'),
    ratioOf(`cachalot warmup (${WARMUP_NODES}-node cluster) / origin direct just before`, medianOf(w.next.cluster), cluster, ['>=', 0.9], 'MB/s'),
    ratioOf("a fresh daemon's first warm-up (one mount) / the same origin reads", medianOf(w.first.standalone), standalone, undefined, 'MB/s'),
    ratioOf(`fresh daemons' first warm-up (${WARMUP_NODES}-node cluster) / the same origin reads`, medianOf(w.first.cluster), cluster, undefined, 'MB/s'),
    ratioOf('cachalot warmup (one mount) / the ceiling', medianOf(w.next.standalone), medianOf(ceiling), undefined, 'MB/s'),
    ratioOf(`cachalot warmup (${WARMUP_NODES}-node cluster) / the ceiling`, medianOf(w.next.cluster), medianOf(ceiling), undefined, 'MB/s'),
  ];
}
