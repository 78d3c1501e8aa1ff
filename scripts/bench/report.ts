// Turns the samples of one run into Markdown tables: absolute figures per
// tool, then the ratios that the project's targets are stated in.

export type Measure = 'seq' | 'small' | 'ls';
export const MEASURES: Measure[] = ['seq', 'small', 'ls'];

export const MEASURE_LABEL: Record<Measure, string> = {
  seq: 'cold seq read, MB/s',
  small: 'cold small files, files/s',
  ls: 'cold `ls -l`, s',
};

export interface Sample {
  /** MB/s (seq), files/s (small), seconds (ls). */
  value?: number;
  error?: string;
  /** Time from mount command to a mount that answers, s. */
  mountSec?: number;
  /** CPU seconds the FUSE daemon spent during the measurement. */
  daemonCpuSec?: number;
  /** CPU seconds the origin (s3rver) spent during the measurement. */
  originCpuSec?: number;
  /** CPU seconds that processes other than the bench, the daemon and the origin spent during the measurement. */
  foreignCpuSec?: number;
  /** Wall seconds of the measurement. */
  seconds?: number;
  /** The daemon's VmHWM just before unmount, MiB. */
  peakRssMiB?: number;
}

export interface Row {
  name: string;
  version: string;
  options: string;
  samples: Record<Measure, Sample[]>;
}

export function median(values: number[]): number | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const valuesOf = (samples: Sample[], pick: (s: Sample) => number | undefined) =>
  samples.map(pick).filter((x): x is number => x !== undefined && Number.isFinite(x));

export function medianOf(samples: Sample[], pick: (s: Sample) => number | undefined = (s) => s.value): number | undefined {
  return median(valuesOf(samples, pick));
}

export function fmt(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function spread(samples: Sample[], digits: number): string {
  const v = valuesOf(samples, (s) => s.value);
  const failed = samples.filter((s) => s.error).length;
  const m = median(v);
  let text = fmt(m, digits);
  if (v.length > 1) text += ` (${fmt(Math.min(...v), digits)}-${fmt(Math.max(...v), digits)})`;
  if (failed > 0) text += ` [${failed} failed]`;
  return text;
}

const DIGITS: Record<Measure, number> = { seq: 0, small: 0, ls: 2 };

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The summary: one row per tool, medians with (min-max) over rounds. */
export function summaryTable(origin: Sample[], rows: Row[], originLabel: string): string {
  const body: string[][] = [
    [originLabel, spread(origin, 0), '', '', '', '', ''],
    ...rows.map((r) => {
      const all = [...r.samples.seq, ...r.samples.small, ...r.samples.ls];
      const rss = valuesOf(all, (s) => s.peakRssMiB);
      const seqCpu = medianOf(r.samples.seq, (s) => s.daemonCpuSec);
      const seqMB = medianOf(r.samples.seq, (s) => (s.value !== undefined && s.seconds ? s.value * s.seconds : undefined));
      return [
        r.name,
        spread(r.samples.seq, DIGITS.seq),
        spread(r.samples.small, DIGITS.small),
        spread(r.samples.ls, DIGITS.ls),
        fmt(medianOf(all, (s) => s.mountSec), 2),
        rss.length ? fmt(Math.max(...rss), 0) : 'n/a',
        seqCpu !== undefined && seqMB ? `${fmt(seqCpu, 2)} (${fmt(seqCpu / (seqMB / 1000), 2)} s/GB)` : 'n/a',
      ];
    }),
  ];
  return table(
    ['', MEASURE_LABEL.seq, `${MEASURE_LABEL.small}`, MEASURE_LABEL.ls, 'mount, s', 'daemon peak RSS, MiB', 'daemon CPU during cold seq, s'],
    body,
  );
}

/** Every sample of one tool, round by round. */
export function toolTable(row: Row): string {
  const rounds = Math.max(...MEASURES.map((m) => row.samples[m].length));
  const cell = (s: Sample | undefined, digits: number) => {
    if (!s) return '';
    if (s.error) return `failed: ${s.error.slice(0, 80)}`;
    const cpu = s.daemonCpuSec !== undefined ? `, cpu ${fmt(s.daemonCpuSec, 1)} s` : '';
    const origin = s.originCpuSec !== undefined ? `, origin cpu ${fmt(s.originCpuSec, 1)} s` : '';
    const other = s.foreignCpuSec !== undefined && s.seconds && s.foreignCpuSec / s.seconds > 0.1 ? `, **other cpu ${fmt(s.foreignCpuSec, 1)} s**` : '';
    return `${fmt(s.value, digits)}${cpu}${origin}${other}`;
  };
  const body = MEASURES.map((m) => [
    MEASURE_LABEL[m],
    ...Array.from({ length: rounds }, (_, i) => cell(row.samples[m][i], DIGITS[m])),
    fmt(medianOf(row.samples[m]), DIGITS[m]),
  ]);
  return table([`${row.name}`, ...Array.from({ length: rounds }, (_, i) => `round ${i + 1}`), 'median'], body);
}

export interface Ratio {
  name: string;
  value?: number;
  target: string;
  met?: boolean;
  detail: string;
}

export function ratios(origin: Sample[], rows: Row[]): Ratio[] {
  const get = (name: string) => rows.find((r) => r.name === name);
  const cachalot = get('cachalot');
  const out: Ratio[] = [];
  if (!cachalot) return out;
  const cSeq = medianOf(cachalot.samples.seq);
  const cSmall = medianOf(cachalot.samples.small);
  const cLs = medianOf(cachalot.samples.ls);
  const others = rows.filter((r) => r.name !== 'cachalot');
  const best = (m: Measure, higherIsBetter: boolean) =>
    others
      .map((r) => ({ name: r.name, v: medianOf(r.samples[m]) }))
      .filter((x): x is { name: string; v: number } => x.v !== undefined)
      .sort((a, b) => (higherIsBetter ? b.v - a.v : a.v - b.v))[0];

  const bestSeq = best('seq', true);
  const div = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const seqVsBest = div(cSeq, bestSeq?.v);
  out.push({
    name: `cachalot cold seq / best of rclone, s3fs${bestSeq ? ` (${bestSeq.name})` : ''}`,
    value: seqVsBest,
    target: '>= 1.0x',
    met: seqVsBest === undefined ? undefined : seqVsBest >= 1.0,
    detail: `${fmt(cSeq)} vs ${fmt(bestSeq?.v)} MB/s`,
  });
  const oSeq = medianOf(origin);
  const seqVsOrigin = div(cSeq, oSeq);
  out.push({
    name: 'cachalot cold seq / origin direct',
    value: seqVsOrigin,
    target: '>= 0.9x',
    met: seqVsOrigin === undefined ? undefined : seqVsOrigin >= 0.9,
    detail: `${fmt(cSeq)} vs ${fmt(oSeq)} MB/s`,
  });
  const s3fsLs = medianOf(get('s3fs')?.samples.ls ?? []);
  const lsVsS3fs = div(cLs, s3fsLs);
  out.push({
    name: 'cachalot `ls -l` time / s3fs `ls -l` time',
    value: lsVsS3fs,
    target: '<= 0.5x',
    met: lsVsS3fs === undefined ? undefined : lsVsS3fs <= 0.5,
    detail: `${fmt(cLs, 2)} vs ${fmt(s3fsLs, 2)} s`,
  });
  const bestSmall = best('small', true);
  const smallVsBest = div(cSmall, bestSmall?.v);
  out.push({
    name: `cachalot cold small files / best of rclone, s3fs${bestSmall ? ` (${bestSmall.name})` : ''}`,
    value: smallVsBest,
    target: '(none)',
    detail: `${fmt(cSmall)} vs ${fmt(bestSmall?.v)} files/s`,
  });
  const bestLs = best('ls', false);
  const lsVsBest = div(cLs, bestLs?.v);
  out.push({
    name: `cachalot \`ls -l\` time / fastest of rclone, s3fs${bestLs ? ` (${bestLs.name})` : ''}`,
    value: lsVsBest,
    target: '(none)',
    detail: `${fmt(cLs, 2)} vs ${fmt(bestLs?.v, 2)} s`,
  });
  return out;
}

export function ratioTable(list: Ratio[]): string {
  return table(
    ['ratio (medians)', 'value', 'target', 'verdict', 'figures'],
    list.map((r) => [
      r.name,
      r.value === undefined ? 'n/a' : `${fmt(r.value, 2)}x`,
      r.target,
      r.met === undefined ? (r.target === '(none)' ? '' : 'n/a') : r.met ? 'met' : '**MISSED**',
      r.detail,
    ]),
  );
}
