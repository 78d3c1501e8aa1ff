import { Command } from 'commander';
import { resolve } from 'node:path';
import { readClusterToken } from '../rpc/cluster-token';
import { routeGrpcLogs } from '../rpc/grpc-logs';
import { readTls } from '../rpc/grpc-tls';
import { CLUSTER_CLIENT_ORIGIN_SETTINGS, s3OriginFrom, type S3OriginConfig } from '../config/s3-origin';
import { formatBytes } from '../config/units';
import { CachalotError } from '../errors';
import { createMetaClient } from '../meta/meta-client';
import { silentLogger } from '../obs/logger';
import { clusterNodes, mountNodes, type Nodes } from '../warmup/nodes';
import type { WarmupReport } from '../warmup/tally';
import { parseTarget, readTargets } from '../warmup/targets';
import { runWarmup, type CacheOp } from '../warmup/warmup';
import { die } from './exit';
import { hostPortArg, integerArg } from './option-parsers';
import { storesAt } from './s3-stores';
import { addSettingFlags, givenSettings } from './setting-flags';
import { tlsFiles, withTlsOptions, type TlsFlags } from './tls-options';

interface CacheFlags extends TlsFlags {
  fromFile?: string;
  mount?: string;
  meta?: string;
  tokenFile?: string;
  parallel: number;
  pin?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** As origin-direct's best figure (8 ranged GETs of 16 MiB in flight, two blocks each): enough to fill a node's link to S3, per node. */
const DEFAULT_PARALLEL = 16;
/** Exit code of a run stopped by Ctrl-C, as shells report SIGINT. */
const INTERRUPTED = 130;
/** S3 connections for listing the targets. */
const LISTING_CONNECTIONS = 8;
const META_TIMEOUT_MS = 5000;

/** What each command does, and what each node does with --meta. */
const OPERATIONS: Record<string, { description: string; onEachNode: string }> = {
  warmup: {
    description: 'load TARGETs (s3:// objects or prefixes, paths under a mount) into the cache before a job reads them (docs/WARMUP.md)',
    onEachNode: 'loads the blocks it owns',
  },
  pin: { description: 'load TARGETs into the cache and pin them: never evicted, kept across restarts (docs/WARMUP.md)', onEachNode: 'loads and pins the blocks it owns' },
  unpin: { description: 'unpin TARGETs: evictable again (docs/WARMUP.md)', onEachNode: 'unpins the blocks it owns' },
  evict: { description: 'drop the cached blocks of TARGETs (with --meta: on every node) (docs/WARMUP.md)', onEachNode: 'drops the blocks it owns' },
};

/** `cachalot warmup`, `pin`, `unpin`, `evict`: one set of targets and flags, four operations. */
export function cacheCommands(): Command[] {
  return [cacheCommand('warmup', 'warm'), cacheCommand('pin', 'warm', true), cacheCommand('unpin', 'unpin'), cacheCommand('evict', 'evict')];
}

function cacheCommand(name: string, op: CacheOp, pinning = false): Command {
  let command = new Command(name)
    .description(OPERATIONS[name].description)
    .argument('[targets...]', 's3://BUCKET[/KEY-OR-PREFIX] or a path under a cachalot mount')
    .option('--from-file <list>', 'more targets, one a line ("-": stdin), e.g. a dataset manifest')
    .option('--mount <mountpoint>', 'standalone: the daemon of this mount does the work')
    .option('--meta <host:port>', `cluster: every node ${OPERATIONS[name].onEachNode}`, hostPortArg)
    .option('--token-file <file>', 'file holding the cluster secret; required with --meta');
  command = addSettingFlags(withTlsOptions(command), CLUSTER_CLIENT_ORIGIN_SETTINGS);
  if (op === 'warm') command = command.option('--parallel <n>', 'blocks loading at once per node', integerArg(1, 256), DEFAULT_PARALLEL);
  if (name === 'warmup') command = command.option('--pin', 'pin what is loaded (as `cachalot pin`)').option('--dry-run', 'load nothing: how many objects and bytes would be loaded, how much is cached');
  return command.option('--json', 'print one JSON report (stable shape, docs/WARMUP.md)').action(async (args: string[], flags: CacheFlags, command: Command) => {
    let nodes: Nodes | undefined;
    try {
      const origin = s3OriginFrom(givenSettings(command, CLUSTER_CLIENT_ORIGIN_SETTINGS), process.env);
      const texts = await readTargets(args, flags.fromFile);
      if (texts.length === 0) throw new CachalotError('InvalidConfig', 'no targets: give s3:// URIs, paths under a mount, or --from-file');
      const targets = await Promise.all(texts.map(parseTarget));
      const workers = await nodesOf(flags);
      nodes = workers.nodes;
      const stop = stopOnSigint(name);
      const report = await runWarmup({
        op,
        pin: pinning || flags.pin === true,
        dryRun: flags.dryRun === true,
        parallel: flags.parallel,
        targets,
        nodes,
        storeOf: storesAt(origin(workers.metaOrigin), LISTING_CONNECTIONS, silentLogger),
        progress: !flags.json || process.stderr.isTTY,
        stopped: stop,
      });
      nodes.close();
      for (const failure of report.failed) process.stderr.write(`cachalot: failed: ${failure.name}: ${failure.error}\n`);
      process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : describe(name, report));
      process.exit(report.interrupted ? INTERRUPTED : report.failed.length > 0 ? 1 : 0);
    } catch (err) {
      nodes?.close();
      die(err);
    }
  });
}

/** The nodes that do the work and, in a cluster, where meta reaches S3. */
async function nodesOf(flags: CacheFlags): Promise<{ nodes: Nodes; metaOrigin?: S3OriginConfig }> {
  if ((flags.mount === undefined) === (flags.meta === undefined)) throw new CachalotError('InvalidConfig', 'give one of --mount MOUNTPOINT (standalone) or --meta HOST:PORT (cluster)');
  if (flags.mount !== undefined) {
    if (flags.tokenFile !== undefined) throw new CachalotError('InvalidConfig', '--token-file goes with --meta');
    return { nodes: await mountNodes(resolve(flags.mount)) };
  }
  if (flags.tokenFile === undefined) throw new CachalotError('InvalidConfig', '--meta needs --token-file');
  routeGrpcLogs(silentLogger);
  const token = readClusterToken(resolve(flags.tokenFile));
  const tls = readTls(tlsFiles(flags), false);
  const meta = createMetaClient(flags.meta!, token, { tls });
  try {
    const metaOrigin = await meta.origin(META_TIMEOUT_MS);
    return { nodes: await clusterNodes(meta, { token, tls }), metaOrigin };
  } finally {
    meta.close();
  }
}

/** The first Ctrl-C stops sending work (what is in flight finishes, the report is printed); a second exits at once. */
function stopOnSigint(name: string): () => boolean {
  let stopped = false;
  process.on('SIGINT', () => {
    if (stopped) process.exit(INTERRUPTED);
    stopped = true;
    process.stderr.write(`\ncachalot: ${name}: stopping (blocks in flight finish; run again to go on; Ctrl-C again to quit now)\n`);
  });
  return () => stopped;
}

function describe(name: string, r: WarmupReport): string {
  const rate = r.seconds > 0 ? `, ${formatBytes(r.bytesLoaded / r.seconds)}/s` : '';
  const blocks = r.dryRun
    ? `would load ${r.blocksLoaded} blocks (${formatBytes(r.bytesLoaded)}); ${r.blocksSkipped} blocks (${formatBytes(r.bytesSkipped)}) cached`
    : `${r.blocksLoaded} blocks loaded (${formatBytes(r.bytesLoaded)}${rate}), ${r.blocksSkipped} cached already`;
  const what = r.dryRun ? `${name} --dry-run` : name;
  return `${what}: ${r.objects} objects, ${formatBytes(r.bytes)} in ${r.seconds.toFixed(1)} s; ${blocks}; ${r.failed.length} failed${r.interrupted ? '; INTERRUPTED: run again to go on' : ''}\n`;
}
