import type { BlockResult } from '../block/block-ops';
import type { ObjectState, Unit } from './plan';
import type { TargetFailure } from './targets';

/**
 * What `cachalot warmup --json` (and pin, unpin, evict) prints: stable,
 * documented in docs/WARMUP.md; fields may be added, none renamed or removed.
 */
export interface WarmupReport {
  /** Objects whose every block is now cached (loaded or found), and their bytes. */
  objects: number;
  bytes: number;
  /** Blocks loaded from S3 (with --dry-run: that would be) and blocks skipped, cached already. */
  blocksLoaded: number;
  blocksSkipped: number;
  bytesLoaded: number;
  bytesSkipped: number;
  /** Targets and objects that failed, each once, by name. */
  failed: TargetFailure[];
  seconds: number;
  dryRun: boolean;
  /** Stopped by Ctrl-C before the end: a rerun goes on where this one left. */
  interrupted: boolean;
}

/** Counts the results of every block as they come, for the progress line and the report. */
export class Tally {
  objectsPlanned = 0;
  bytesPlanned = 0;
  objectsDone = 0;
  bytesDone = 0;
  /** Bytes of blocks with a result of any kind: what the progress bar shows. */
  bytesSeen = 0;
  blocksLoaded = 0;
  blocksSkipped = 0;
  bytesLoaded = 0;
  bytesSkipped = 0;
  readonly failed: TargetFailure[] = [];

  constructor(private readonly fanout: number) {}

  add(object: ObjectState): void {
    this.objectsPlanned++;
    this.bytesPlanned += object.size;
    if (object.pending === 0) this.finish(object);
  }

  fail(failure: TargetFailure): void {
    this.failed.push(failure);
  }

  record(unit: Unit, result: BlockResult): void {
    const { object, length } = unit;
    this.bytesSeen += length / this.fanout;
    if (result.outcome === 'loaded' || result.outcome === 'absent') {
      this.blocksLoaded++;
      this.bytesLoaded += length;
    } else if (result.outcome === 'cached') {
      this.blocksSkipped++;
      this.bytesSkipped += length;
    } else if (result.outcome === 'failed') {
      object.failure ??= { code: result.errorCode || 'Internal', error: result.error };
    }
    if (--object.pending === 0) this.finish(object);
  }

  report(seconds: number, dryRun: boolean, interrupted: boolean): WarmupReport {
    const { objectsDone: objects, bytesDone: bytes, blocksLoaded, blocksSkipped, bytesLoaded, bytesSkipped, failed } = this;
    return { objects, bytes, blocksLoaded, blocksSkipped, bytesLoaded, bytesSkipped, failed, seconds: Math.round(seconds * 1000) / 1000, dryRun, interrupted };
  }

  private finish(object: ObjectState): void {
    if (object.failure) {
      this.failed.push({ name: object.name, ...object.failure });
      return;
    }
    this.objectsDone++;
    this.bytesDone += object.size;
  }
}
