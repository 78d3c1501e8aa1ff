// The cluster part of the report: the peer read beside the owner's own warm
// read, the CPU each node spent on it, and S3 traffic for 1, 2 and 3 nodes.
import { CLUSTER_SIZES, type ClusterSamples } from './cluster';
import { Ratio, Sample, fmt, medianOf, mib, ratioOf, spread, table } from './report';

const cpu = (samples: Sample[], pick: (s: Sample & { ownerCpuSec?: number }) => number | undefined) => fmt(medianOf(samples, pick), 2);

export function clusterTable(c: ClusterSamples, datasetBytes: number): string {
  const perGiB = (samples: Sample[], pick: (s: Sample & { ownerCpuSec?: number }) => number | undefined) =>
    cpu(samples, (s) => {
      const sec = pick(s);
      return sec === undefined ? undefined : (sec * 2 ** 30) / datasetBytes;
    });
  const reads = table(
    ['', 'MB/s', 'reader CPU, s per GiB', 'owner CPU, s per GiB', 'origin sent, MiB'],
    [
      ["owner's own warm read (its NVMe tier, page cache dropped)", spread(c.ownerWarm, 0), perGiB(c.ownerWarm, (s) => s.daemonCpuSec), '(the reader)', fmt(mib(medianOf(c.ownerWarm, (s) => s.originSentBytes) ?? NaN), 1)],
      ["peer read: another node's mount, every block asked of the owner", spread(c.peer, 0), perGiB(c.peer, (s) => s.daemonCpuSec), perGiB(c.peer, (s) => s.ownerCpuSec), fmt(mib(medianOf(c.peer, (s) => s.originSentBytes) ?? NaN), 1)],
    ],
  );
  const traffic = table(
    ['nodes reading the same data at once (cold cluster)', 'S3 sent / data size', 'S3 sent per node / data size', 'all nodes together, MB/s'],
    CLUSTER_SIZES.map((n) => {
      const samples = c.s3Traffic.get(n) ?? [];
      const x = medianOf(samples);
      return [String(n), x === undefined ? 'n/a' : `${fmt(x, 2)}x`, x === undefined ? 'n/a' : `${fmt(x / n, 2)}x`, fmt(medianOf(samples, (s) => (s.error ? undefined : s.value !== undefined && s.seconds ? (datasetBytes * n) / s.seconds / 1e6 : undefined)))];
    }),
  );
  return `${reads}\n\n${traffic}`;
}

export function clusterRatios(c: ClusterSamples): Ratio[] {
  const three = c.s3Traffic.get(3) ?? [];
  return [
    ratioOf("cachalot peer read / the owner's own warm read", medianOf(c.peer), medianOf(c.ownerWarm), ['>=', 0.5], 'MB/s'),
    { ...ratioOf('S3 bytes sent, 3 nodes reading the same data / data size', medianOf(three), 1, ['<=', 1.1], 'x', 2), detail: `${fmt(medianOf(three), 2)}x the data` },
  ];
}
