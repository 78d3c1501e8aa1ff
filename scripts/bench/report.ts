// Turns the samples of one run into Markdown tables: absolute figures per
// tool, then the ratios that the project's targets are stated in.

/** Cold measures (fresh mount, fresh cache), then the cache measures that follow them. */
export type Measure = 'seq' | 'reread' | 'warmSeq' | 'small' | 'warmSmall' | 'ls' | 'mem4';
export const COLD_MEASURES: Measure[] = ['seq', 'small', 'ls'];
/** Every measure, in the order of the tables. */
export const MEASURES: Measure[] = ['seq', 'reread', 'warmSeq', 'small', 'warmSmall', 'ls', 'mem4'];
/** The reads after a remount on the same cache directory. */
export const WARM_MEASURES: Measure[] = ['warmSeq', 'warmSmall'];

/** The memory check: cachalot with a small RAM tier, several readers of the big file at once; its RSS bound is RAM tier + headroom. */
export const MEMORY_CHECK = { readers: 4, ramCacheMiB: 256, headroomMiB: 200 };

export const MEASURE_LABEL: Record<Measure, string> = {
  seq: 'cold seq read, MB/s',
  reread: 're-read (page cache), MB/s',
  warmSeq: 'warm seq (disk cache), MB/s',
  small: 'cold small files, files/s',
  warmSmall: 'warm small files, files/s',
  ls: 'cold `ls -l`, s',
  mem4: `${MEMORY_CHECK.readers} readers cold, --ram-cache ${MEMORY_CHECK.ramCacheMiB}MiB, MB/s`,
};

export const MEASURE_UNIT: Record<Measure, string> = {
  seq: 'MB/s',
  reread: 'MB/s',
  warmSeq: 'MB/s',
  small: 'files/s',
  warmSmall: 'files/s',
  ls: 's',
  mem4: 'MB/s',
};

export const DIGITS: Record<Measure, number> = { seq: 0, reread: 0, warmSeq: 0, small: 0, warmSmall: 0, ls: 2, mem4: 0 };

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
  /** Bytes the origin process wrote to its sockets during the measurement (/proc/PID/io wchar). */
  originSentBytes?: number;
  /** Bytes of S3 GETs during the measurement by the tool's own count (cachalot: `cachalot stats`). */
  s3GetBytes?: number;
}

export interface Row {
  name: string;
  version: string;
  options: string;
  samples: Record<Measure, Sample[]>;
}

export function emptySamples(): Record<Measure, Sample[]> {
  return Object.fromEntries(MEASURES.map((m) => [m, []])) as unknown as Record<Measure, Sample[]>;
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

export function spread(samples: Sample[], digits: number): string {
  const v = valuesOf(samples, (s) => s.value);
  const failed = samples.filter((s) => s.error).length;
  const m = median(v);
  let text = fmt(m, digits);
  if (v.length > 1) text += ` (${fmt(Math.min(...v), digits)}-${fmt(Math.max(...v), digits)})`;
  if (failed > 0) text += ` [${failed} failed]`;
  return text;
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The summary: one row per tool, medians with (min-max) over rounds; first the origin read directly, when it was. */
export function summaryTable(rows: Row[], origin?: { label: string; samples: Sample[] }): string {
  const body: string[][] = [
    ...(origin ? [[origin.label, spread(origin.samples, 0), '', '', '', '', '']] : []),
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

export const mib = (bytes: number) => bytes / 2 ** 20;

/** Every sample of one tool, round by round; only the measures it has samples of. */
export function toolTable(row: Row): string {
  const measures = MEASURES.filter((m) => row.samples[m].length > 0);
  const rounds = Math.max(...measures.map((m) => row.samples[m].length));
  const cell = (s: Sample | undefined, m: Measure) => {
    if (!s) return '';
    if (s.error) return `failed: ${s.error.slice(0, 80)}`;
    const extras = [
      s.daemonCpuSec !== undefined ? `cpu ${fmt(s.daemonCpuSec, 1)} s` : '',
      s.originCpuSec !== undefined ? `origin cpu ${fmt(s.originCpuSec, 1)} s` : '',
      WARM_MEASURES.includes(m) && s.originSentBytes !== undefined ? `origin sent ${fmt(mib(s.originSentBytes), 1)} MiB` : '',
      s.s3GetBytes !== undefined ? `S3 GET ${fmt(mib(s.s3GetBytes), 1)} MiB (stats)` : '',
      m === 'mem4' && s.peakRssMiB !== undefined ? `peak RSS ${fmt(s.peakRssMiB)} MiB` : '',
      s.foreignCpuSec !== undefined && s.seconds && s.foreignCpuSec / s.seconds > 0.1 ? `**other cpu ${fmt(s.foreignCpuSec, 1)} s**` : '',
    ];
    return [fmt(s.value, DIGITS[m]), ...extras.filter(Boolean)].join(', ');
  };
  const body = measures.map((m) => [
    MEASURE_LABEL[m],
    ...Array.from({ length: rounds }, (_, i) => cell(row.samples[m][i], m)),
    fmt(medianOf(row.samples[m]), DIGITS[m]),
  ]);
  return table([`${row.name}`, ...Array.from({ length: rounds }, (_, i) => `round ${i + 1}`), 'median'], body);
}

export interface Ratio {
  name: string;
  value?: number;
  /** Unit of value when it is not a ratio (shown as "N unit" instead of "Nx"). */
  unit?: string;
  target: string;
  met?: boolean;
  detail: string;
}

/** A target: the value must be at least, or at most, the number. */
export type Bound = ['>=' | '<=', number];

export function meets(value: number | undefined, bound: Bound | undefined): boolean | undefined {
  if (value === undefined || bound === undefined) return undefined;
  return bound[0] === '>=' ? value >= bound[1] : value <= bound[1];
}

/** The ratio a / b of two medians, checked against a bound ('(none)' without one). */
export function ratioOf(name: string, a: number | undefined, b: number | undefined, bound: Bound | undefined, unit: string, digits = 0): Ratio {
  const value = a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
  return {
    name,
    value,
    target: bound ? `${bound[0]} ${bound[1].toFixed(1)}x` : '(none)',
    met: meets(value, bound),
    detail: `${fmt(a, digits)} vs ${fmt(b, digits)} ${unit}`,
  };
}

/** Median of a measure of the named tool. */
export const medianFor = (rows: Row[], name: string, m: Measure) => medianOf(rows.find((r) => r.name === name)?.samples[m] ?? []);

export function ratios(origin: Sample[], rows: Row[]): Ratio[] {
  if (!rows.some((r) => r.name === 'cachalot')) return [];
  const c = (m: Measure) => medianFor(rows, 'cachalot', m);
  const best = (m: Measure, higherIsBetter: boolean) =>
    rows
      .filter((r) => r.name !== 'cachalot' && r.name !== 'cachalot baseline')
      .map((r) => ({ name: r.name, v: medianOf(r.samples[m]) }))
      .filter((x): x is { name: string; v: number } => x.v !== undefined)
      .sort((a, b) => (higherIsBetter ? b.v - a.v : a.v - b.v))[0];
  const of = (b?: { name: string }) => (b ? ` (${b.name})` : '');
  const bestSeq = best('seq', true);
  const bestSmall = best('small', true);
  const bestLs = best('ls', false);
  return [
    ratioOf(`cachalot cold seq / best of rclone, s3fs${of(bestSeq)}`, c('seq'), bestSeq?.v, ['>=', 1.0], 'MB/s'),
    ratioOf('cachalot cold seq / origin direct', c('seq'), medianOf(origin), ['>=', 0.9], 'MB/s'),
    ...(rows.some((r) => r.name === 'cachalot baseline')
      ? [
          ratioOf('cachalot cold seq / the baseline build (--baseline)', c('seq'), medianFor(rows, 'cachalot baseline', 'seq'), undefined, 'MB/s'),
          ratioOf('cachalot cold small files / the baseline build', c('small'), medianFor(rows, 'cachalot baseline', 'small'), undefined, 'files/s'),
        ]
      : []),
    ratioOf('cachalot `ls -l` time / s3fs `ls -l` time', c('ls'), medianFor(rows, 's3fs', 'ls'), ['<=', 0.5], 's', 2),
    ratioOf(`cachalot cold small files / best of rclone, s3fs${of(bestSmall)}`, c('small'), bestSmall?.v, undefined, 'files/s'),
    ratioOf(`cachalot \`ls -l\` time / fastest of rclone, s3fs${of(bestLs)}`, c('ls'), bestLs?.v, undefined, 's', 2),
  ];
}

export function ratioTable(list: Ratio[]): string {
  return table(
    ['ratio (medians)', 'value', 'target', 'verdict', 'figures'],
    list.map((r) => [
      r.name,
      r.value === undefined ? 'n/a' : r.unit ? `${fmt(r.value)} ${r.unit}` : `${fmt(r.value, 2)}x`,
      r.target,
      r.met === undefined ? (r.target === '(none)' ? '' : 'n/a') : r.met ? 'met' : '**MISSED**',
      r.detail,
    ]),
  );
}
