// The cache part of the report: re-read and warm figures against the limits
// of this machine (a plain local file), the memory check, their ratios, and
// notes on tools that did not serve a warm read from their cache.
import { MEMORY_CHECK, Measure, Ratio, Row, Sample, WARM_MEASURES, fmt, medianFor, medianOf, meets, mib, ratioOf, spread, table } from './report';

const sentCell = (samples: Sample[]) => {
  const sent = medianOf(samples, (s) => s.originSentBytes);
  const own = medianOf(samples, (s) => s.s3GetBytes);
  if (sent === undefined) return 'n/a';
  return `${fmt(mib(sent), 1)}${own !== undefined ? ` (own count: ${fmt(mib(own), 1)})` : ''}`;
};

/** One row per tool, and first the plain file: its re-read, and its cold read in the warm seq column. */
export function cacheTable(limits: Row, rows: Row[]): string {
  const body = [
    ['plain file on the cache filesystem (warm seq column: its cold read)', spread(limits.samples.reread, 0), spread(limits.samples.seq, 0), '', '', ''],
    ...rows.map((r) => [
      r.name,
      spread(r.samples.reread, 0),
      spread(r.samples.warmSeq, 0),
      sentCell(r.samples.warmSeq),
      spread(r.samples.warmSmall, 0),
      sentCell(r.samples.warmSmall),
    ]),
  ];
  return table(
    ['', 're-read (page cache), MB/s', 'warm seq (disk cache), MB/s', 'origin sent during warm seq, MiB', 'warm small files, files/s', 'origin sent during warm small, MiB'],
    body,
  );
}

/** Highest daemon peak RSS over the rounds of the memory check. */
const peakRss = (row?: Row) => {
  const v = (row?.samples.mem4 ?? []).map((s) => s.peakRssMiB).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return v.length ? Math.max(...v) : undefined;
};

const rssBound = MEMORY_CHECK.ramCacheMiB + MEMORY_CHECK.headroomMiB;

export function memoryTable(rows: Row[]): string {
  const body = rows
    .filter((r) => r.samples.mem4.length > 0)
    .map((r) => [r.name, spread(r.samples.mem4, 0), fmt(peakRss(r)), `${rssBound} (${MEMORY_CHECK.ramCacheMiB} + ${MEMORY_CHECK.headroomMiB})`]);
  return table(['', `${MEMORY_CHECK.readers} readers of the big file at once, cold, MB/s (all readers)`, 'daemon peak RSS, MiB (highest of rounds)', 'bound, MiB'], body);
}

export function cacheRatios(limits: Row, rows: Row[]): Ratio[] {
  if (!rows.some((r) => r.name === 'cachalot')) return [];
  const c = (m: Measure) => medianFor(rows, 'cachalot', m);
  const rss = peakRss(rows.find((r) => r.name === 'cachalot'));
  return [
    ratioOf('cachalot warm seq / plain file cold', c('warmSeq'), medianOf(limits.samples.seq), ['>=', 0.9], 'MB/s'),
    ratioOf('cachalot warm seq / s3fs warm seq', c('warmSeq'), medianFor(rows, 's3fs', 'warmSeq'), ['>=', 1.5], 'MB/s'),
    ratioOf('cachalot warm seq / rclone warm seq', c('warmSeq'), medianFor(rows, 'rclone', 'warmSeq'), ['>=', 3.0], 'MB/s'),
    ratioOf('cachalot re-read / plain file re-read', c('reread'), medianOf(limits.samples.reread), ['>=', 0.8], 'MB/s'),
    ratioOf('cachalot warm small files / rclone warm small files', c('warmSmall'), medianFor(rows, 'rclone', 'warmSmall'), ['>=', 3.0], 'files/s'),
    {
      name: `cachalot daemon peak RSS, ${MEMORY_CHECK.readers} readers, --ram-cache ${MEMORY_CHECK.ramCacheMiB}MiB (highest of rounds)`,
      value: rss,
      unit: 'MiB',
      target: `<= ${rssBound} MiB`,
      met: meets(rss, ['<=', rssBound]),
      detail: `${fmt(rss)} vs ${rssBound} MiB`,
    },
  ];
}

/**
 * Warm reads that the origin served for the most part (it sent more than half
 * of what was read): that tool did not reuse its cache after the remount.
 */
export function cacheReuseNotes(rows: Row[], expectedBytes: Record<'warmSeq' | 'warmSmall', number>): string[] {
  const notes: string[] = [];
  for (const row of rows) {
    for (const m of WARM_MEASURES as Array<'warmSeq' | 'warmSmall'>) {
      const sent = medianOf(row.samples[m], (s) => s.originSentBytes);
      if (sent === undefined || sent < expectedBytes[m] / 2) continue;
      const what = m === 'warmSeq' ? 'warm seq' : 'warm small files';
      notes.push(
        `${row.name} did NOT serve its ${what} read from its cache after the remount: the origin sent ${fmt(mib(sent))} MiB of ${fmt(mib(expectedBytes[m]))} MiB read (median); that figure is another cold read`,
      );
    }
  }
  return notes;
}
