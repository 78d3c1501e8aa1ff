import { Command } from 'commander';
import { formatBytes } from '../config/units';
import { askDaemon } from '../control/control-client';
import type { MembershipStatus } from '../meta/cluster-member';
import type { MountStats } from '../mount/mount-stats';
import { die } from './exit';
import { hitRatio, textTable } from './text-table';

export function statsCommand(): Command {
  return new Command('stats')
    .description("a mount's cache tiers and S3 traffic (docs/STATS.md)")
    .argument('<mountpoint>')
    .option('--json', 'print one JSON object (stable shape, docs/STATS.md)')
    .action(async (mountpoint: string, flags: { json?: boolean }) => {
      try {
        const stats = (await askDaemon(mountpoint, '/stats')) as MountStats;
        process.stdout.write(flags.json ? `${JSON.stringify(stats, null, 2)}\n` : describe(stats));
      } catch (err) {
        die(err);
      }
    });
}

function describe(s: MountStats): string {
  const rows = [['tier', 'used', 'pinned', 'capacity', 'blocks', 'hits', 'misses', 'hit ratio', 'evictions', 'errors']];
  for (const t of s.tiers) {
    rows.push([t.tier, formatBytes(t.usedBytes), formatBytes(t.pinnedBytes), formatBytes(t.capacityBytes), ...[t.blocks, t.hits, t.misses].map(String), hitRatio(t), String(t.evictions), String(t.errors)]);
  }
  return [
    `${s.mountpoint}: ${s.source} (pid ${s.pid}, up ${s.uptimeSeconds} s)`,
    s.tiers.length ? textTable(rows) : 'no cache tiers (--ram-cache 0 --disk-cache 0)',
    `S3: ${s.s3.getRequests} GETs, ${formatBytes(s.s3.getBytes)}; ${s.s3.headRequests} HEAD, ${s.s3.listRequests} LIST; ${s.s3.errors} errors, ${s.s3.retries} retries`,
    `read through the mount: ${formatBytes(s.reads.bytes)}; open files: ${s.reads.openFiles}`,
    ...(s.cluster ? [describeCluster(s.cluster)] : []),
    ...(s.peers ? [describePeers(s.peers)] : []),
    ...(s.listings ? [`listings: ${s.listings.meta} from meta, ${s.listings.s3} from S3, ${s.listings.metaFailed} from S3 after meta failed`] : []),
    '',
  ].join('\n');
}

function describePeers(p: NonNullable<MountStats['peers']>): string {
  const { blocks, served, receivedBytes } = p;
  const wire = `${formatBytes(receivedBytes.raw + receivedBytes.lz4)} on the wire (${formatBytes(receivedBytes.lz4)} of it lz4)`;
  return `peers: blocks on a miss: ${blocks.peer} from their owner, ${blocks.origin} from S3, ${blocks.peerFailed} from S3 after the owner failed; ${wire}; served ${served.ok} blocks to others (${served.error} failed)`;
}

function describeCluster(c: MembershipStatus): string {
  const meta = c.metaReachable ? `meta ${c.meta}` : `meta ${c.meta} (not answering: last view kept)`;
  return `cluster: node ${c.nodeId}, ${meta}, epoch ${c.epoch}, ${c.members.length} members`;
}
