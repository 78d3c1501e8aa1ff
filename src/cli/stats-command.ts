import { Command } from 'commander';
import type { TierStats } from '../block/types';
import { formatBytes } from '../config/units';
import { askDaemon } from '../control/control-client';
import type { MountStats } from '../mount/mount-stats';
import { die } from './exit';

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
  const rows = [['tier', 'used', 'capacity', 'blocks', 'hits', 'misses', 'hit ratio', 'evictions', 'errors']];
  for (const t of s.tiers) {
    rows.push([t.tier, formatBytes(t.usedBytes), formatBytes(t.capacityBytes), ...[t.blocks, t.hits, t.misses].map(String), hitRatio(t), String(t.evictions), String(t.errors)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const table = rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
  return [
    `${s.mountpoint}: ${s.source} (pid ${s.pid}, up ${s.uptimeSeconds} s)`,
    s.tiers.length ? table : 'no cache tiers (--ram-cache 0 --disk-cache 0)',
    `S3: ${s.s3.getRequests} GETs, ${formatBytes(s.s3.getBytes)}; ${s.s3.headRequests} HEAD, ${s.s3.listRequests} LIST; ${s.s3.errors} errors, ${s.s3.retries} retries`,
    `read through the mount: ${formatBytes(s.reads.bytes)}; open files: ${s.reads.openFiles}`,
    '',
  ].join('\n');
}

function hitRatio(t: TierStats): string {
  const asked = t.hits + t.misses;
  return asked === 0 ? '-' : `${((100 * t.hits) / asked).toFixed(1)}%`;
}
