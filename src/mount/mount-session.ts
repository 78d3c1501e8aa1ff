import type { Server } from 'node:http';
import type { MountConfig } from '../config/mount-config';
import { oneLine } from '../errors';
import { mountFuse, FuseMount } from '../fuse/fuse-adapter';
import { createObjectStore } from '../object/create-object-store';
import type { Logger } from '../obs/logger';
import { Metrics } from '../obs/metrics';
import { Slots } from '../block/slots';
import type { LocalObjects } from '../block/types';
import type { ObjectStore } from '../object/types';
import { HeldBlocks } from '../vfs/held-blocks';
import { ObjectWrites } from '../vfs/object-writes';
import type { MetaClient } from '../meta/meta-client';
import { listingAnnouncer } from '../meta/listing-announcer';
import { watchListingChanges } from '../meta/listing-watch';
import { UploadJournal } from '../vfs/upload-journal';
import { Namespace } from '../vfs/namespace';
import { ObjectVfs } from '../vfs/object-vfs';
import { serveControl } from '../control/control-server';
import { controlSocketPath } from '../control/control-path';
import { removeStaleControlSocket } from '../control/stale-socket';
import type { ClusterMember } from '../meta/cluster-member';
import { MetaListingStore } from '../meta/meta-listing-store';
import { parseBlockOpsRequest } from '../block/block-ops';
import { openBlockStack } from './block-stack';
import { clusterSecurity, joinCluster, metaClientFor, peerMembers } from './join-cluster';
import { startPeerServer, type PeerServer } from '../cluster/peer-server';
import { liveSettings, restartNeeded } from './live-settings';
import { mountStats, nodeReport, type PassthroughStatus } from './mount-stats';
import { isMounted, prepareMountpoint, unmountPath, waitUntilAnswering } from './mountpoint';

export interface MountSession {
  /** Unmounts (lazily if busy), closes handles and servers. Idempotent. */
  stop(): Promise<void>;
  /** Settles when the mount is gone, by stop() or by an outside unmount. */
  readonly ended: Promise<void>;
  readonly metrics: Metrics;
  /**
   * Applies a reloaded config (SIGHUP): log level, TTLs, the disk tier's size
   * and the drain bound change live; returns the other settings that differ
   * and wait for a restart.
   */
  reconfigure(next: MountConfig): Promise<string[]>;
}

/** Builds the layer stack for one mount (S3 -> blocks -> VFS -> FUSE) and mounts it. */
export async function startMount(config: MountConfig, log: Logger): Promise<MountSession> {
  // Before anything starts: an unreadable token or TLS file is one line, and nothing to undo.
  const security = config.cluster && clusterSecurity(config.cluster);
  const metrics = new Metrics();
  const store = createObjectStore(
    {
      bucket: config.bucket,
      endpoint: config.endpoint,
      region: config.region,
      requestTimeoutMs: config.requestTimeoutMs,
      maxAttempts: config.maxAttempts,
      maxConnections: config.s3MaxConnections,
    },
    log,
    metrics,
  );
  // Fail before mounting: a bad mountpoint, bucket, endpoint or key says so at once and leaves no mount behind.
  const { replacedStale } = await prepareMountpoint(config.mountpoint);
  // The mountpoint is this daemon's now: a socket a killed daemon left there goes, even if this start fails.
  await removeStaleControlSocket(config.mountpoint);
  await store.checkBucket();
  if (replacedStale) log.warn({ mountpoint: config.mountpoint }, 'replaced a stale mount (its daemon had died)');

  const metaClient = config.cluster && metaClientFor(config.cluster, security!, log);
  // A cluster node lists folders through meta's shared listing cache; blocks and heads stay on S3.
  const listingStore = metaClient
    ? new MetaListingStore(store, { client: metaClient, maxAgeMs: config.metadataTtlMs, log, onOutcome: (outcome) => metrics.listings.inc({ outcome }) })
    : store;
  const namespace = new Namespace(listingStore, {
    rootPrefix: config.prefix,
    ttlMs: config.metadataTtlMs,
    negativeTtlMs: config.negativeTtlMs,
    log,
    onSkippedKey: () => metrics.skippedKeys.inc(),
  });
  let member: ClusterMember | undefined;
  const peers = config.cluster && {
    ...security!,
    selfId: config.cluster.nodeId,
    members: () => peerMembers(member),
    onOutcome: (outcome: string) => metrics.peerBlocks.inc({ outcome }),
    lz4: config.cluster.lz4,
    onReceived: (encoding: string, wireBytes: number) => metrics.peerReceivedBytes.inc({ encoding }, wireBytes),
  };
  const blocks = await openBlockStack(config, store, log, peers, (op, outcome, bytes) => {
    metrics.blockOps.inc({ op, outcome });
    metrics.blockOpsBytes.inc({ op, outcome }, bytes);
  });
  const held = new HeldBlocks(blocks.source, config.memory.readaheadBytes, (used) => metrics.readaheadBytes.set(used));
  metrics.trackCache(() => blocks.cache.stats());
  metrics.trackBlockMemory(blocks.pool);
  const startedAt = Date.now();
  // In a cluster, what this node changes in S3 is announced to the others (through meta), and theirs heard.
  let changes: ClusterChanges | undefined;
  const writes = config.readOnly ? undefined : await openWrites(config, store, namespace, blocks.local, metrics, log, (folder) => changes?.announce(folder));
  const vfs = new ObjectVfs(
    namespace,
    held,
    { ...config, readaheadMax: config.memory.readaheadMax, log, onOpenFilesChange: (n) => metrics.openFiles.set(n) },
    blocks.local,
    writes,
  );
  const passthrough = passthroughPlan(config, blocks.local !== undefined);
  if (!passthrough.status.enabled) log.info({ reason: passthrough.status.reason }, 'FUSE passthrough off; reads go through the daemon');
  let fuse: FuseMount | undefined;
  let metricsServer: Server | undefined;
  let controlServer: Server | undefined;
  let peerServer: PeerServer | undefined;
  try {
    if (config.cluster) {
      // Serving before joining: the address advertised is the one bound (a port 0 resolved).
      const { peerListen } = config.cluster;
      const onServed = (outcome: string) => metrics.peerServed.inc({ outcome });
      peerServer = peerListen ? await startPeerServer({ listen: peerListen, ...security!, lz4: config.cluster.lz4, source: blocks.source, ops: blocks.ops, log, onServed }) : undefined;
      member = await joinCluster(config.cluster, metaClient!, peerServer?.address ?? '', blocks.cache, () => nodeReport(blocks, metrics), log);
      changes = followChanges(metaClient!, config, namespace, log);
    }
    metricsServer = config.metrics ? await metrics.serve(config.metrics) : undefined;
    controlServer = await serveControl(
      controlSocketPath(config.mountpoint),
      { '/stats': () => mountStats(config, blocks, metrics, startedAt, passthrough.status, member) },
      { '/blocks': async (body) => blocks.ops.run(parseBlockOpsRequest(body)) },
    );
    fuse = await mountFuse(
      config.mountpoint,
      vfs,
      {
        fsName: `cachalot:${config.bucket}/${config.prefix}`,
        attrTimeoutSec: attrTimeoutSec(config.metadataTtlMs),
        allowOther: config.allowOther,
        readOnly: config.readOnly,
        passthrough: passthrough.status.enabled,
        onPassthrough: (enabled, reason) => {
          passthrough.status = { enabled, reason };
          if (enabled) log.info('FUSE passthrough on: files cached whole on disk are read by the kernel itself');
          else log.warn({ reason }, 'FUSE passthrough off; reads go through the daemon');
        },
      },
      (path) => unmountPath(path),
      metrics,
      (message) => log.warn({ mountpoint: config.mountpoint }, message),
    );
    await waitUntilAnswering(config.mountpoint, 10_000);
  } catch (err) {
    await changes?.stop();
    if (member) await member.leave();
    else metaClient?.close();
    await peerServer?.stop();
    metricsServer?.close();
    controlServer?.close();
    await blocks.close();
    if (fuse || (await isMounted(config.mountpoint))) await unmountPath(config.mountpoint, true).catch(() => {});
    throw err;
  }
  log.info({ mountpoint: config.mountpoint, bucket: config.bucket, prefix: config.prefix }, 'mounted');

  let stopping: Promise<void> | undefined;
  let markEnded: () => void = () => {};
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  fuse.ended.then(() => {
    if (stopping) return;
    log.info({ mountpoint: config.mountpoint }, 'unmounted from outside; shutting down');
    stop().catch(() => {});
  });

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // No new opens from here on. A plain unmount works only when no file is
      // open; else the mount is detached lazily and its open files are still
      // served while the reads in flight finish (bounded by drain_timeout).
      const drained = vfs.drain(config.drainTimeoutMs);
      if (await isMounted(config.mountpoint)) {
        await fuse!.unmount().catch(async (err) => {
          log.warn({ err: oneLine(err) }, 'unmount busy; detaching lazily');
          await unmountPath(config.mountpoint, true);
        });
      }
      if (!(await drained)) log.warn({ drainTimeoutMs: config.drainTimeoutMs }, 'reads still in flight after drain_timeout; stopping anyway');
      // Before leaving: leave closes the client the change stream runs on.
      await changes?.stop();
      await member?.leave();
      await peerServer?.stop();
      await vfs.close();
      await blocks.close();
      metricsServer?.close();
      controlServer?.close();
      log.info({ mountpoint: config.mountpoint }, 'unmounted');
      markEnded();
    })());

  const reconfigure = async (next: MountConfig): Promise<string[]> => {
    const waiting = restartNeeded(config, next);
    log.level = next.logLevel;
    namespace.setTtls(next.metadataTtlMs, next.negativeTtlMs);
    if (listingStore instanceof MetaListingStore) listingStore.setMaxAge(next.metadataTtlMs);
    fuse!.setAttrTimeout(attrTimeoutSec(next.metadataTtlMs));
    if (next.diskCache !== config.diskCache && !(await blocks.resizeDisk(next.diskCache))) waiting.push('diskCache');
    Object.assign(config, liveSettings(next), { diskCache: waiting.includes('diskCache') ? config.diskCache : next.diskCache });
    log.info({ ...liveSettings(config), restartNeeded: waiting }, 'reloaded the config');
    return waiting;
  };

  return { stop, ended, metrics, reconfigure };
}

/** Parts being sent at once, all files being written together. */
const UPLOADS_IN_FLIGHT = 16;

/**
 * The write side: files being written are spooled under the cache dir,
 * where uploads a killed daemon left are aborted first (docs/WRITES.md).
 */
/** A cluster node's share of the listings' changes: announcing its own, hearing the others'. */
interface ClusterChanges {
  announce(folderKey: string): void;
  stop(): Promise<void>;
}

function followChanges(client: MetaClient, config: MountConfig, namespace: Namespace, log: Logger): ClusterChanges {
  const nodeId = config.cluster!.nodeId;
  const announcer = listingAnnouncer(client, nodeId, config.bucket, log);
  const watch = watchListingChanges(client, nodeId, config.bucket, (folder) => namespace.folderChanged(folder), () => namespace.forgetAll(), log);
  return {
    announce: (folder) => announcer.announce(folder),
    stop: async () => {
      watch.stop();
      await announcer.close();
    },
  };
}

async function openWrites(
  config: MountConfig,
  store: ObjectStore,
  namespace: Namespace,
  local: LocalObjects | undefined,
  metrics: Metrics,
  log: Logger,
  onChanged: (folderKey: string) => void,
): Promise<ObjectWrites> {
  const journal = await UploadJournal.open(config.cacheDir, store, log);
  return new ObjectWrites(namespace, {
    bucket: config.bucket,
    store,
    journal,
    uploads: new Slots(UPLOADS_IN_FLIGHT),
    blockSize: config.blockSize,
    allowOverwrite: config.allowOverwrite,
    log,
    local,
    onPart: (bytes) => {
      metrics.uploadParts.inc();
      metrics.uploadBytes.inc(bytes);
    },
    onUpload: (outcome) => metrics.uploads.inc({ outcome }),
    onChanged,
  });
}

/**
 * Whether the mount asks the kernel for FUSE passthrough; where it does not,
 * one log line says why. The kernel's own answer comes at INIT.
 */
function passthroughPlan(config: MountConfig, diskTier: boolean): { status: PassthroughStatus } {
  const reason = !config.passthrough ? 'turned off (--no-passthrough)' : !diskTier ? 'no disk tier (--disk-cache 0) to read files from' : '';
  return { status: { enabled: reason === '', reason: reason || 'waiting for the kernel' } };
}

/** The kernel's attr/entry cache follows the metadata TTL; "never" is a year. */
function attrTimeoutSec(metadataTtlMs: number): number {
  return Number.isFinite(metadataTtlMs) ? metadataTtlMs / 1000 : 86400 * 365;
}
