import type { Counter } from 'prom-client';
import type { BlockCache, TierStats } from '../block/types';
import type { MountConfig } from '../config/mount-config';
import type { ClusterMember, MembershipStatus } from '../meta/cluster-member';
import type { Suspect } from '../cluster/peer-source';
import type { NodeReport } from '../meta/types';
import type { Metrics } from '../obs/metrics';

/**
 * What `cachalot stats --json` prints. The shape is documented in docs/STATS.md
 * and stable: fields may be added, none renamed or removed.
 */
export interface MountStats {
  mountpoint: string;
  source: string;
  pid: number;
  uptimeSeconds: number;
  tiers: TierStats[];
  s3: { getRequests: number; getBytes: number; headRequests: number; listRequests: number; errors: number; retries: number };
  reads: { bytes: number; openFiles: number };
  /**
   * Files written through the mount: bytes written, files by outcome
   * (stored in S3, failed with EIO, dropped), and the parts and single PUTs
   * sent for them with their bytes (docs/WRITES.md).
   */
  writes: { bytes: number; files: { completed: number; failed: number; aborted: number }; parts: number; partBytes: number; retries: number };
  /** FUSE passthrough: whether new opens may use it now (reason: why not), and how many did (docs/CACHE.md). */
  passthrough: PassthroughStatus & { opens: number };
  /** Only for a mount with --meta: what it knows of the cluster (docs/CLUSTER.md). */
  cluster?: MembershipStatus;
  /**
   * Only with --meta: blocks it loaded on a local miss by source, blocks it
   * served to others, bytes it received from peers, and the peers it passes
   * over now (each failed a request; their blocks come from S3 meanwhile).
   */
  peers?: {
    blocks: { peer: number; origin: number; peerFailed: number };
    served: { ok: number; error: number };
    receivedBytes: { raw: number; lz4: number };
    suspects: Suspect[];
  };
  /** Only with --meta: folder listings by where they came from. */
  listings?: { meta: number; s3: number; metaFailed: number };
}

export interface PassthroughStatus {
  enabled: boolean;
  /** Why it is off; empty when on. */
  reason: string;
}

/** The parts of a mount's block layer its figures come from. */
export interface FigureSources {
  cache: BlockCache;
  /** Peers passed over now (none without a cluster). */
  suspects: () => Suspect[];
}

export async function mountStats(
  config: MountConfig,
  blocks: FigureSources,
  metrics: Metrics,
  startedAt: number,
  passthrough: PassthroughStatus,
  member?: ClusterMember,
): Promise<MountStats> {
  const { cache } = blocks;
  const requests = await byLabel(metrics.s3Requests, 'op');
  return {
    mountpoint: config.mountpoint,
    source: `s3://${config.bucket}/${config.prefix}`,
    pid: process.pid,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    tiers: cache.stats(),
    s3: {
      getRequests: requests.get ?? 0,
      getBytes: await total(metrics.s3GetBytes),
      headRequests: requests.head ?? 0,
      listRequests: requests.list ?? 0,
      errors: await total(metrics.s3Errors),
      retries: await total(metrics.s3Retries),
    },
    reads: { bytes: await total(metrics.readBytes), openFiles: (await metrics.openFiles.get()).values[0]?.value ?? 0 },
    passthrough: { ...passthrough, opens: await total(metrics.passthroughOpens) },
    writes: await writeFigures(metrics),
    cluster: member?.status(),
    ...(member ? await clusterFigures(metrics, blocks.suspects()) : {}),
  };
}

/** What a cluster node tells meta with each heartbeat: a block is a hit when any tier had it, a miss when the last tier did not either. */
export async function nodeReport({ cache, suspects }: FigureSources, metrics: Metrics): Promise<NodeReport> {
  const tiers = cache.stats();
  const sum = (field: 'usedBytes' | 'hits' | 'pinnedBytes') => tiers.reduce((total, tier) => total + tier[field], 0);
  const peers = await peerFigures(metrics);
  const listings = await listingFigures(metrics);
  return {
    usedBytes: sum('usedBytes'),
    hits: sum('hits'),
    misses: tiers.at(-1)?.misses ?? 0,
    pinnedBytes: sum('pinnedBytes'),
    peerBlocks: peers.blocks.peer,
    peerFailures: peers.blocks.peerFailed,
    servedBlocks: peers.served.ok,
    s3GetBytes: await total(metrics.s3GetBytes),
    listingsFromMeta: listings.meta,
    listingsFromS3: listings.s3 + listings.metaFailed,
    suspects: suspects().map((s) => s.id),
  };
}

async function clusterFigures(metrics: Metrics, suspects: Suspect[]): Promise<Pick<MountStats, 'peers' | 'listings'>> {
  return { peers: { ...(await peerFigures(metrics)), suspects }, listings: await listingFigures(metrics) };
}

/** The S3 operations of writes, as the object layer names them in its metrics. */
const WRITE_OPS = new Set(['put', 'create-upload', 'upload-part', 'complete-upload', 'abort-upload', 'delete', 'copy']);

async function writeFigures(metrics: Metrics): Promise<MountStats['writes']> {
  const files = await byLabel(metrics.uploads, 'outcome');
  return {
    bytes: await total(metrics.writtenBytes),
    files: { completed: files.completed ?? 0, failed: files.failed ?? 0, aborted: files.aborted ?? 0 },
    parts: await total(metrics.uploadParts),
    partBytes: await total(metrics.uploadBytes),
    retries: Object.entries(await byLabel(metrics.s3Retries, 'op'))
      .filter(([op]) => WRITE_OPS.has(op))
      .reduce((sum, [, n]) => sum + n, 0),
  };
}

async function listingFigures(metrics: Metrics): Promise<NonNullable<MountStats['listings']>> {
  const listings = await byLabel(metrics.listings, 'outcome');
  return { meta: listings.meta ?? 0, s3: listings.s3 ?? 0, metaFailed: listings['meta-failed'] ?? 0 };
}

async function peerFigures(metrics: Metrics): Promise<Omit<NonNullable<MountStats['peers']>, 'suspects'>> {
  const blocks = await byLabel(metrics.peerBlocks, 'outcome');
  const served = await byLabel(metrics.peerServed, 'outcome');
  const received = await byLabel(metrics.peerReceivedBytes, 'encoding');
  return {
    blocks: { peer: blocks.peer ?? 0, origin: blocks.origin ?? 0, peerFailed: blocks['peer-failed'] ?? 0 },
    served: { ok: served.ok ?? 0, error: served.error ?? 0 },
    receivedBytes: { raw: received.raw ?? 0, lz4: received.lz4 ?? 0 },
  };
}

async function total(counter: Counter<string>): Promise<number> {
  return (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
}

async function byLabel(counter: Counter<string>, label: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await counter.get()).values) {
    const key = String(v.labels[label]);
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}
