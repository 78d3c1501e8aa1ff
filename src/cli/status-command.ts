import { Command } from 'commander';
import { resolve } from 'node:path';
import { readClusterToken } from '../rpc/cluster-token';
import { routeGrpcLogs } from '../rpc/grpc-logs';
import { readTls } from '../rpc/grpc-tls';
import { formatBytes } from '../config/units';
import { ClusterStatus, clusterStatus } from '../meta/cluster-status';
import { createMetaClient } from '../meta/meta-client';
import { silentLogger } from '../obs/logger';
import { die } from './exit';
import { hostPortArg } from './option-parsers';
import { hitRatio, textTable } from './text-table';
import { tlsFiles, withTlsOptions, type TlsFlags } from './tls-options';

const TIMEOUT_MS = 5000;

export function statusCommand(): Command {
  const command = new Command('status')
    .description('cluster members, their caches and the epoch, from meta (docs/CLUSTER.md)')
    .requiredOption('--meta <host:port>', 'the metadata service', hostPortArg)
    .requiredOption('--token-file <file>', 'file holding the cluster secret');
  return withTlsOptions(command)
    .option('--json', 'print one JSON object (stable shape, docs/CLUSTER.md)')
    .action(async (flags: TlsFlags & { meta: string; tokenFile: string; json?: boolean }) => {
      routeGrpcLogs(silentLogger);
      try {
        const token = readClusterToken(resolve(flags.tokenFile));
        const client = createMetaClient(flags.meta, token, { tls: readTls(tlsFiles(flags), false) });
        const view = await client.members(TIMEOUT_MS).finally(() => client.close());
        const status = clusterStatus(view);
        process.stdout.write(flags.json ? `${JSON.stringify(status, null, 2)}\n` : describe(flags.meta, status));
      } catch (err) {
        die(err);
      }
    });
}

function describe(meta: string, s: ClusterStatus): string {
  const rows = [['id', 'address', 'state', 'lease age', 'used', 'pinned', 'capacity', 'hits', 'misses', 'hit ratio', 'from peers', 'peer failed', 'served', 'from S3']];
  for (const m of s.members) {
    rows.push([
      m.id,
      m.address || '-',
      m.state,
      `${(m.leaseAgeMs / 1000).toFixed(1)} s`,
      ...[m.usedBytes, m.pinnedBytes, m.capacityBytes].map(formatBytes),
      String(m.hits),
      String(m.misses),
      hitRatio(m),
      ...[m.peerBlocks, m.peerFailures, m.servedBlocks].map(String),
      formatBytes(m.s3GetBytes),
    ]);
  }
  const t = s.totals;
  return [
    `meta ${meta}: epoch ${s.epoch}, ${t.members} members (${t.alive} alive)`,
    ...(s.members.length ? [textTable(rows)] : []),
    `cluster cache: ${formatBytes(t.usedBytes)} of ${formatBytes(t.capacityBytes)} used, ${formatBytes(t.pinnedBytes)} pinned; hit ratio ${hitRatio(t)}`,
    `sharing: ${t.peerBlocks} blocks from peers, ${t.peerFailures} from S3 after a peer failed, ${formatBytes(t.s3GetBytes)} from S3 in all`,
    `listings: ${t.listingsFromMeta} from meta's shared cache, ${t.listingsFromS3} from S3`,
    `suspects: ${s.suspects.map((x) => `${x.id} (passed over by ${x.by.join(', ')})`).join('; ') || 'none'}`,
    '',
  ].join('\n');
}
