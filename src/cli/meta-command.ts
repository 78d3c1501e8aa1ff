import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { readClusterToken } from '../cluster/cluster-token';
import { routeGrpcLogs } from '../cluster/grpc-logs';
import { describeTls, readTls, type ClusterTls } from '../cluster/grpc-tls';
import { oneLine } from '../errors';
import { startMetaServer } from '../meta/meta-server';
import { createLogger, LOG_LEVELS } from '../obs/logger';
import { die } from './exit';
import { durationArg, hostPortArg, integerArg, urlArg } from './option-parsers';
import { storesFromFlags } from './s3-stores';
import { tlsFiles, withTlsOptions, type TlsFlags } from './tls-options';

interface MetaFlags extends TlsFlags {
  listen: string;
  dataDir: string;
  tokenFile: string;
  leaseMs: number;
  endpoint?: string;
  region?: string;
  listingTtl?: number;
  listingEntries: number;
  logLevel: string;
}

const DEFAULT_LEASE_MS = 10_000;
/** As a node's default --metadata-ttl: with defaults, one S3 listing per folder per minute for the whole cluster. */
const DEFAULT_LISTING_TTL_MS = 60_000;
/** About 200 MB of listings (docs/CLUSTER.md). */
const DEFAULT_LISTING_ENTRIES = 1_000_000;
/** S3 connections of meta's listings, per bucket. */
const LISTING_CONNECTIONS = 16;

export function metaCommand(): Command {
  const command = new Command('meta')
    .description('run the metadata service (cluster membership, shared listing cache) in the foreground (docs/CLUSTER.md)')
    .requiredOption('--listen <host:port>', 'address to serve gRPC on; port 0 takes a free one (printed)', hostPortArg)
    .requiredOption('--data-dir <dir>', 'durable state (LMDB): the epoch')
    .requiredOption('--token-file <file>', 'file holding the cluster secret shared by meta, nodes and commands');
  return withTlsOptions(command)
    .option('--lease-ms <n>', 'a node without a heartbeat for this long is dropped', integerArg(300, 600_000), DEFAULT_LEASE_MS)
    .option('--endpoint <url>', 'S3 endpoint the shared listing cache lists (default: AWS; env AWS_ENDPOINT_URL); credentials as for mounts (AWS env, profiles)', urlArg)
    .option('--region <region>', 'S3 region (env AWS_REGION; default us-east-1)')
    .option('--listing-ttl <duration>', 'a folder listing older than this is listed again, whatever its askers accept (their --metadata-ttl bounds it too); "never" for none (default 60s)', durationArg)
    .option('--listing-entries <n>', 'bound on the listing entries held over all folders; least recently read listings go first', integerArg(1000, 100_000_000), DEFAULT_LISTING_ENTRIES)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .action(async (flags: MetaFlags) => {
      const log = createLogger(flags.logLevel);
      routeGrpcLogs(log);
      let server;
      let tls: ClusterTls | undefined;
      try {
        const { token, warning } = readClusterToken(resolve(flags.tokenFile));
        if (warning) log.warn(warning);
        tls = readTls(tlsFiles(flags), true);
        const stores = storesFromFlags(flags, LISTING_CONNECTIONS, log);
        const listing = { stores, ttlMs: flags.listingTtl ?? DEFAULT_LISTING_TTL_MS, maxEntries: flags.listingEntries };
        server = await startMetaServer({ listen: flags.listen, dataDir: resolve(flags.dataDir), token, tls, leaseMs: flags.leaseMs, listing, log });
      } catch (err) {
        return die(err);
      }
      process.stdout.write(`cachalot: meta listening on ${server.address} (epoch ${server.epoch}, lease ${flags.leaseMs} ms, ${describeTls(tls)})\n`);
      process.on('unhandledRejection', (err) => log.error({ err: oneLine(err) }, 'unhandled rejection'));
      const shutdown = (signal: string) => {
        log.info({ signal }, 'shutting down');
        server.stop().then(
          () => {
            log.flush?.();
            process.exit(0);
          },
          (err) => die(err),
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
    });
}
