// Warm reads from the disk tier (issue 17): the dataset cached whole on
// cachalot's disk, read through the mount side by side with the same bytes as
// plain files on the same filesystem. With FUSE passthrough the kernel reads
// the disk tier's files itself; `--no-passthrough` is the daemon's own path,
// for comparison.
//
// Per configuration and round: a fresh mount fills its disk tier (`cachalot
// warmup`), then a new daemon on that cache directory is measured. Its
// first read of the big file includes the check of every block that comes
// before a file is first handed to the kernel in a daemon's life; the reads
// after it are the steady state: the big file with 1 MiB and with 128 KiB
// reads (page cache dropped before each), again at once (from the page
// cache), and 8 readers of the small files (after one unmeasured pass, which
// checks them). Each read is paired with the same read of plain files, in
// alternating order: for the big file, the disk tier's own file of it read
// directly (the same blocks; this VM's disk speed depends on which blocks
// the host has cached), for the small files plain copies on the same
// filesystem. The ratios are medians of the pairs; the daemon's CPU is
// measured over each read.
import { mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from '../../tests/support/mount-fixture';
import { BUCKET, Dataset, KiB, MiB } from './dataset';
import { seqRead, smallFiles } from './measure';
import { procStats, since } from './procs';
import { Bound, Ratio, Sample, fmt, median, medianOf, spread, table } from './report';
import type { Session } from './session';
import { cachalotTool, localDir, type Mountable, type MountedTool, type ToolContext } from './tools';

/** The cachalot configurations measured: the memory budget does not matter to a passthrough read; the daemon's own path is the baseline. */
export const LOCAL_CONFIGS: Array<{ label: string; args: string[] }> = [
  { label: 'default', args: [] },
  { label: '--ram-cache 64MiB', args: ['--ram-cache', '64MiB'] },
  { label: '--ram-cache 0', args: ['--ram-cache', '0'] },
  { label: '--no-passthrough', args: ['--no-passthrough'] },
];

export type LocalMeasure = 'first' | 'seq1m' | 'seq128k' | 'reread' | 'small8';
const MEASURES: LocalMeasure[] = ['first', 'seq1m', 'seq128k', 'reread', 'small8'];
const LABEL: Record<LocalMeasure, string> = {
  first: "first read after a restart (check included), MB/s",
  seq1m: 'seq, 1 MiB reads, MB/s',
  seq128k: 'seq, 128 KiB reads, MB/s',
  reread: 're-read (page cache), MB/s',
  small8: '8 readers, 100 KiB files, files/s',
};

type Samples = Record<LocalMeasure, Sample[]>;
/** One configuration's samples, and the plain file's taken right after each of them. */
interface Paired {
  cachalot: Samples;
  plain: Samples;
}
/** By configuration label. */
export type LocalSamples = Record<string, Paired>;

const emptyRow = (): Samples => Object.fromEntries(MEASURES.map((m) => [m, []])) as unknown as Samples;

export function emptyLocalSamples(): LocalSamples {
  return Object.fromEntries(LOCAL_CONFIGS.map((c) => [c.label, { cachalot: emptyRow(), plain: emptyRow() }]));
}

/** Pairs of each steady-state measure per configuration and round. */
const PAIRS = 2;

type Read = (mountpoint: string) => Promise<{ value: number; seconds: number }>;

export class LocalBench {
  private readonly seq1m: Read = (mp) => seqRead(mp, this.dataset, 1, MiB).then((r) => ({ value: r.mbps, seconds: r.seconds }));
  private readonly seq128k: Read = (mp) => seqRead(mp, this.dataset, 1, 128 * KiB).then((r) => ({ value: r.mbps, seconds: r.seconds }));
  private readonly small8: Read = (mp) => smallFiles(mp, this.dataset, 8).then((r) => ({ value: r.filesPerSec, seconds: r.seconds }));
  private readonly plain: Mountable;

  constructor(
    private readonly ctx: ToolContext,
    private readonly session: Session,
    private readonly dataset: Dataset,
    plainDir: string,
    private readonly cachalotArgs: string[],
  ) {
    this.plain = localDir(plainDir);
  }

  /**
   * One round: per configuration, a cache filled and a new daemon on it; each
   * read of it is followed at once by the same read of the plain files, so
   * that this VM's disk, whose speed swings by 2x and more within minutes,
   * is the same for both.
   */
  async round(out: LocalSamples, progress: (line: string) => void): Promise<void> {
    const plain = await this.plain.mount();
    for (const config of LOCAL_CONFIGS) await this.configuration(config, plain, out[config.label]!, (line) => progress(`  local, ${config.label}, ${line}`));
  }

  private async configuration(config: (typeof LOCAL_CONFIGS)[number], plain: MountedTool, out: Paired, progress: (line: string) => void): Promise<void> {
    const tool = cachalotTool(this.ctx, [...this.cachalotArgs, ...config.args]);
    let mounted: MountedTool | undefined;
    let direct: MountedTool | undefined;
    const turns = new Map<LocalMeasure, number>();
    const pair = async (measure: LocalMeasure, read: Read, cold: boolean) => {
      // The big file's yardstick is the disk tier's own file of it, read directly: the same blocks of
      // the same disk, whose speed on this VM depends on which blocks the host has cached.
      const yardstick = measure === 'small8' ? plain : direct!;
      // A re-read follows a read of the same file, nothing dropped in between.
      const timed = async (who: Mountable, where: MountedTool) => {
        if (!cold) await this.measure(who, where, read, true);
        return this.measure(who, where, read, cold);
      };
      const sides = [
        async () => out.cachalot[measure].push(await timed(tool, mounted!)),
        async () => out.plain[measure].push(await timed(this.plain, yardstick)),
      ];
      // Who goes first alternates from pair to pair of a measure: on this VM the second read of the same
      // blocks is the faster, the host having cached them, which a drop in the guest does not undo.
      const turn = turns.get(measure) ?? 0;
      turns.set(measure, turn + 1);
      for (const side of turn % 2 ? sides.reverse() : sides) await side();
      progress(`${measure}: cachalot ${describe(out.cachalot[measure].at(-1)!)}; plain ${describe(out.plain[measure].at(-1)!)}`);
    };
    try {
      mounted = await tool.mount();
      const warmed = await runCli(['warmup', '--mount', mounted.mountpoint, `s3://${BUCKET}/${this.dataset.bigKey}`, `s3://${BUCKET}/small/`], this.ctx.cachalotEnv, 600_000);
      if (warmed.code !== 0) throw new Error(`cachalot warmup: exit ${warmed.code}: ${warmed.stderr.trim().split('\n').pop()}`);
      const dirs = mounted.dirs;
      await mounted.unmount(true);
      mounted = undefined;
      direct = await localDir(this.objectFileDir(dirs.cacheDir)).mount();
      this.session.makeCold();
      mounted = await tool.mount(dirs);
      await pair('first', this.seq1m, true);
      // The small files' first opens in this daemon's life check them: one pass unmeasured.
      await this.measure(tool, mounted, this.small8, true);
      for (let i = 0; i < PAIRS; i++) {
        await pair('seq1m', this.seq1m, true);
        await pair('seq128k', this.seq128k, true);
        await pair('reread', this.seq1m, false);
        await pair('small8', this.small8, true);
      }
    } catch (err) {
      progress(`FAILED: ${(err as Error).message}`);
      out.cachalot.seq1m.push({ error: (err as Error).message });
    } finally {
      await mounted?.unmount();
    }
  }

  /** A folder where the disk tier's file of the big object is at the big object's key (a symbolic link). */
  private objectFileDir(cacheDir: string): string {
    const objects = join(cacheDir, 'objects');
    const file = readdirSync(objects, { recursive: true, encoding: 'utf8' })
      .map((name) => join(objects, name))
      .find((path) => statSync(path).isFile() && statSync(path).size === this.dataset.shape.bigBytes);
    if (!file) throw new Error(`no file of ${this.dataset.shape.bigBytes} bytes under ${objects}`);
    const dir = `${cacheDir}-direct`;
    mkdirSync(join(dir, dirname(this.dataset.bigKey)), { recursive: true });
    symlinkSync(file, join(dir, this.dataset.bigKey));
    return dir;
  }

  /** One timed read with the daemon's CPU over it; `cold`: the page cache dropped first. */
  private async measure(tool: Mountable, mounted: MountedTool, read: Read, cold: boolean): Promise<Sample> {
    if (cold) this.session.makeCold(undefined, tool.programFiles);
    const before = mounted.pid ? procStats(mounted.pid) : undefined;
    const start = process.hrtime.bigint();
    try {
      const { value, seconds } = await read(mounted.mountpoint);
      const after = mounted.pid ? procStats(mounted.pid) : undefined;
      return { value, seconds, daemonCpuSec: before && after ? after.cpuSec - before.cpuSec : undefined };
    } catch (err) {
      return { error: (err as Error).message, seconds: since(start) };
    }
  }
}

function describe(s: Sample): string {
  if (s.error) return `FAILED (${s.error})`;
  const cpu = s.daemonCpuSec !== undefined ? `, daemon cpu ${s.daemonCpuSec.toFixed(2)} s` : '';
  return `${fmt(s.value, 0)} in ${s.seconds!.toFixed(2)} s${cpu}`;
}

/** Daemon CPU seconds per GB read: the median over the samples of the big file (its bytes over each sample's CPU). */
function cpuPerGb(samples: Sample[], bytes: number): number | undefined {
  return medianOf(samples, (s) => (s.daemonCpuSec !== undefined ? s.daemonCpuSec / (bytes / 1e9) : undefined));
}

/** The median of cachalot's samples over the plain file's taken right after each. */
function pairedRatio(p: Paired, m: LocalMeasure): number | undefined {
  const ratios = p.cachalot[m].map((s, i) => (s.value !== undefined && p.plain[m][i]?.value ? s.value / p.plain[m][i]!.value! : undefined));
  return median(ratios.filter((r): r is number => r !== undefined));
}

export function localTable(l: LocalSamples, dataset: Dataset): string {
  const rows = LOCAL_CONFIGS.flatMap((c) => {
    const p = l[c.label]!;
    const cpu = cpuPerGb(p.cachalot.seq1m, dataset.shape.bigBytes);
    return [
      [`cachalot ${c.label}`, ...MEASURES.map((m) => spread(p.cachalot[m], 0)), cpu === undefined ? 'n/a' : fmt(cpu, 3)],
      ['  plain files, beside each', ...MEASURES.map((m) => spread(p.plain[m], 0)), ''],
      ['  ratio (median of the pairs)', ...MEASURES.map((m) => `${fmt(pairedRatio(p, m), 2)}x`), ''],
    ];
  });
  return table(['', ...MEASURES.map((m) => LABEL[m]), 'daemon CPU, s per GB (seq, 1 MiB)'], rows);
}

const pairedTarget = (name: string, p: Paired, m: LocalMeasure, bound: Bound | undefined): Ratio => {
  const value = pairedRatio(p, m);
  return {
    name,
    value,
    target: bound ? `${bound[0]} ${bound[1].toFixed(1)}x` : '(none)',
    met: value === undefined || !bound ? undefined : bound[0] === '>=' ? value >= bound[1] : value <= bound[1],
    detail: `${fmt(medianOf(p.cachalot[m]), 0)} vs ${fmt(medianOf(p.plain[m]), 0)} (medians; the ratio is the median of ${p.cachalot[m].length} pairs)`,
  };
};

/** The targets of issue 17, each against the plain file read right after. */
export function localRatios(l: LocalSamples, dataset: Dataset): Ratio[] {
  const out: Ratio[] = [];
  for (const c of LOCAL_CONFIGS.filter((c) => !c.args.includes('--no-passthrough'))) {
    const p = l[c.label]!;
    out.push(pairedTarget(`warm seq 1 MiB reads (${c.label}) / plain file`, p, 'seq1m', ['>=', 0.9]));
    out.push(pairedTarget(`warm seq 128 KiB reads (${c.label}) / plain file`, p, 'seq128k', ['>=', 0.9]));
  }
  const main = l[LOCAL_CONFIGS[0]!.label]!;
  const cpu = cpuPerGb(main.cachalot.seq1m, dataset.shape.bigBytes);
  out.push(
    pairedTarget('re-read from the page cache / plain file', main, 'reread', ['>=', 0.8]),
    pairedTarget('8 readers of warm 100 KiB files / plain file', main, 'small8', ['>=', 0.5]),
    { name: 'daemon CPU during a warm seq read', value: cpu, unit: 's/GB', target: '<= 0.05 s/GB', met: cpu === undefined ? undefined : cpu <= 0.05, detail: `${fmt(cpu, 3)} s/GB` },
    pairedTarget('first read after a restart (check included) / plain file', main, 'first', undefined),
    pairedTarget('warm seq 1 MiB reads, --no-passthrough / plain file', l['--no-passthrough']!, 'seq1m', undefined),
    pairedTarget('8 readers of warm 100 KiB files, --no-passthrough / plain file', l['--no-passthrough']!, 'small8', undefined),
  );
  return out;
}
