// What is measured, as flows of steps on one cache directory: per tool, the
// cold reads and the cache reads that follow them; the plain file (the limits
// of this machine); cachalot's memory check.
import { join } from 'node:path';
import { Dataset } from './dataset';
import { lsLong, seqRead, smallFiles } from './measure';
import { MEMORY_CHECK, Measure } from './report';
import type { Flow, Read, Step } from './session';

/** Which parts of the bench run: the cold measurements, the cache ones (plain file, re-read, warm, memory), the cluster ones, warm-up, warm reads from the disk tier. */
export interface Parts {
  cold: boolean;
  warm: boolean;
  cluster: boolean;
  warmup: boolean;
  local: boolean;
  write: boolean;
}

const seq = (dataset: Dataset, readers = 1): Read => (mp) => seqRead(mp, dataset, readers).then((r) => ({ value: r.mbps, seconds: r.seconds }));

/**
 * Per tool: the big file cold, then (warm) again at once and after a remount
 * on the same cache directory; the small files cold, then (warm) after a
 * remount; `ls -l` cold. The cold reads run in a warm-only run too: they fill
 * the caches.
 */
export function toolFlows(dataset: Dataset, parts: Parts, lsTimeoutMs: number): Flow[] {
  const small: Read = (mp) => smallFiles(mp, dataset, 8).then((r) => ({ value: r.filesPerSec, seconds: r.seconds }));
  const ls: Read = (mp) => lsLong(join(mp, dataset.listPrefix), dataset.shape.listCount, lsTimeoutMs).then((r) => ({ value: r.seconds, seconds: r.seconds }));
  const then = (cold: Measure, warm: Array<[Step, Measure]>): Array<[Step, Measure]> => [['fresh', cold], ...(parts.warm ? warm : [])];
  const flows: Flow[] = [
    { origin: 'big', read: seq(dataset), steps: then('seq', [['again', 'reread'], ['remount', 'warmSeq']]) },
    { origin: 'small', read: small, steps: then('small', [['remount', 'warmSmall']]) },
  ];
  if (parts.cold) flows.push({ origin: dataset.listPrefix, read: ls, steps: [['fresh', 'ls']] });
  return flows;
}

/** The plain local file: cold (page cache dropped), then again at once (from the page cache). */
export const plainFlow = (dataset: Dataset): Flow => ({ read: seq(dataset), steps: [['fresh', 'seq'], ['again', 'reread']] });

/** cachalot with a small RAM tier, several readers of the big file at once, cold. */
export const memoryFlow = (dataset: Dataset): Flow => ({ origin: 'big', read: seq(dataset, MEMORY_CHECK.readers), steps: [['fresh', 'mem4']] });

export const memoryArgs = (): string[] => ['--ram-cache', `${MEMORY_CHECK.ramCacheMiB}MiB`];
