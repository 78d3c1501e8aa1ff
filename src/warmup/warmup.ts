import type { BlockResult } from '../block/block-ops';
import { formatBytes } from '../config/units';
import { CachalotError } from '../errors';
import type { ObjectStore } from '../object/types';
import { dispatch } from './dispatch';
import type { Nodes } from './nodes';
import { blocksOf, objectState, unitOf, type LoadingNode } from './plan';
import { showProgress } from './progress';
import { Tally, type WarmupReport } from './tally';
import { failureOf, objectsOf, type Target, type TargetObject } from './targets';
import { UnitQueue } from './unit-queue';

export type CacheOp = 'warm' | 'unpin' | 'evict';

export interface WarmupOptions {
  op: CacheOp;
  /** With warm: pin what is loaded or found. */
  pin: boolean;
  dryRun: boolean;
  parallel: number;
  targets: Target[];
  nodes: Nodes;
  storeOf: (bucket: string) => ObjectStore;
  /** Progress on stderr (a bar on a terminal, else a line every few seconds). */
  progress: boolean;
  stopped: () => boolean;
}

const VERBS: Record<CacheOp, string> = { warm: 'warmup', unpin: 'unpin', evict: 'evict' };

/**
 * Warm-up and the cache operations, from the command line's side: lists the
 * targets' objects, splits them into blocks, gives each block to its owner
 * (unpin and evict: to every node), and tallies what the nodes answer. The
 * nodes load while the listing goes on (a pin first lists everything, to
 * check the room for it). A failed target or object is reported by name;
 * the rest go on.
 */
export async function runWarmup(options: WarmupOptions): Promise<WarmupReport> {
  const started = process.hrtime.bigint();
  const { nodes, op } = options;
  // A block may sit (a RAM copy) or be pinned (an owner under an older view) on any node: unpin and evict ask them all.
  const everywhere = op !== 'warm';
  const fanout = everywhere ? nodes.all.length : 1;
  const tally = new Tally(fanout);
  const queues = new Map<LoadingNode, UnitQueue>(nodes.all.map((node) => [node, new UnitQueue()]));
  const listed = listObjects(options, tally, (object) => {
    const state = objectState(object, nodes.blockSize, fanout);
    tally.add(state);
    for (const block of blocksOf(object, nodes.blockSize)) {
      for (const node of everywhere ? nodes.all : [nodes.ownerOf(block)]) queues.get(node)!.push(unitOf(block, state));
    }
  }).finally(() => {
    for (const queue of queues.values()) queue.close();
  });
  if (op === 'warm' && options.pin && !options.dryRun) {
    await listed;
    await checkPinRoom(queues, options.stopped);
  }
  const progress = options.progress ? showProgress(tally, options.dryRun ? 'dry run' : VERBS[op]) : undefined;
  try {
    await Promise.all([listed, dispatch(queues, {
      op: options.dryRun ? 'check' : op,
      pin: options.pin,
      parallel: options.parallel,
      stopped: options.stopped,
      onResult: (_node, unit, result) => tally.record(unit, result),
      onFlushFailed: (node, failure) => tally.fail({ name: node.name, ...failure }),
    })]);
  } finally {
    progress?.stop();
  }
  return tally.report(Number(process.hrtime.bigint() - started) / 1e9, options.dryRun, options.stopped());
}

/** Hands on every object of every target once (targets may overlap), at its current ETag, as the listing finds it. */
async function listObjects(options: WarmupOptions, tally: Tally, found: (object: TargetObject) => void): Promise<void> {
  const seen = new Set<string>();
  for (const target of options.targets) {
    if (options.stopped()) break;
    try {
      for await (const object of objectsOf(target, options.storeOf(target.bucket))) {
        if (options.stopped()) break;
        const name = `${object.bucket}/${object.key}`;
        if (seen.has(name)) continue;
        seen.add(name);
        found(object);
      }
    } catch (err) {
      tally.fail(failureOf(target.name, err));
    }
  }
}

/**
 * Before any pin: the bytes each node would newly pin (its blocks not pinned
 * yet) must fit in what its disk cache has left for pins; otherwise nothing
 * is loaded and the command fails with one line.
 */
async function checkPinRoom(queues: Map<LoadingNode, UnitQueue>, stopped: () => boolean): Promise<void> {
  const room = new Map<LoadingNode, { adding: number; pinned: number; capacity: number }>();
  await dispatch(new Map([...queues].map(([node, queue]) => [node, UnitQueue.of(queue.all())])), {
    op: 'check',
    pin: false,
    parallel: 1,
    stopped,
    onResult: (node, unit, result: BlockResult, reply) => {
      const figures = room.get(node) ?? { adding: 0, pinned: 0, capacity: 0 };
      if (!result.pinned) figures.adding += unit.length;
      if (reply) Object.assign(figures, { pinned: reply.pinnedBytes, capacity: reply.pinCapacityBytes });
      room.set(node, figures);
    },
  });
  for (const [node, { adding, pinned, capacity }] of room) {
    if (pinned + adding > capacity) {
      throw new CachalotError('PinTooLarge', `pinning ${formatBytes(adding)} more on ${node.name} would pass its disk cache of ${formatBytes(capacity)} (${formatBytes(pinned)} pinned already)`);
    }
  }
}
