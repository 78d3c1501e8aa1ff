import { SingleBar } from 'cli-progress';
import { formatBytes } from '../config/units';
import type { Tally } from './tally';

/** A line this often when stderr is not a terminal (a log, CI): enough to see it move, not enough to flood. */
const LINE_EVERY_MS = 5000;
const BAR_EVERY_MS = 200;

export interface Progress {
  stop(): void;
}

/**
 * Warm-up progress on stderr: a bar with bytes, objects, rate and ETA on a
 * terminal; otherwise one line every few seconds. stdout stays for the report.
 */
export function showProgress(tally: Tally, verb: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now();
  const figures = () => {
    const seconds = Math.max(0.001, (Date.now() - started) / 1000);
    const rate = tally.bytesSeen / seconds;
    const left = tally.bytesPlanned - tally.bytesSeen;
    return {
      done: formatBytes(tally.bytesSeen),
      total: formatBytes(tally.bytesPlanned),
      objects: `${tally.objectsDone + tally.failed.length}/${tally.objectsPlanned}`,
      rate: `${formatBytes(rate)}/s`,
      eta: rate > 0 ? `${Math.ceil(left / rate)} s` : '-',
      percent: tally.bytesPlanned > 0 ? Math.floor((100 * tally.bytesSeen) / tally.bytesPlanned) : 100,
    };
  };
  if (!stream.isTTY) {
    const timer = setInterval(() => {
      const f = figures();
      stream.write(`cachalot: ${verb}: ${f.done} of ${f.total} (${f.percent}%), ${f.objects} objects, ${f.rate}, ETA ${f.eta}\n`);
    }, LINE_EVERY_MS);
    return { stop: () => clearInterval(timer) };
  }
  const bar = new SingleBar({ stream, hideCursor: true, format: `${verb} {bar} {percentage}% | {done} of {all} | {objects} objects | {rate} | ETA {eta}` });
  bar.start(Math.max(1, tally.bytesPlanned), 0, { ...figures(), all: figures().total });
  // The total grows while the listing goes on.
  const show = () => {
    const f = figures();
    bar.setTotal(Math.max(1, tally.bytesPlanned));
    bar.update(tally.bytesSeen, { ...f, all: f.total });
  };
  const timer = setInterval(show, BAR_EVERY_MS);
  return {
    stop: () => {
      clearInterval(timer);
      show();
      bar.stop();
    },
  };
}
