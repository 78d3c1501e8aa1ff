import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { readClusterToken } from '../rpc/cluster-token';
import { routeGrpcLogs } from '../rpc/grpc-logs';
import { describeTls, readTls } from '../rpc/grpc-tls';
import type { ClusterTls } from '../rpc/types';
import { configFilePath, loadConfigFile } from '../config/config-file';
import type { MetaSettings } from '../config/meta-config';
import { CachalotError, oneLine } from '../errors';
import { startMetaServer } from '../meta/meta-server';
import { createLogger, LOG_LEVELS } from '../obs/logger';
import { systemdNotifier } from '../obs/sd-notify';
import { die } from './exit';
import { durationArg, hostPortArg, integerArg, urlArg } from './option-parsers';
import { storesFromFlags } from './s3-stores';
import { handleServiceSignals } from './service-signals';
import { tlsFiles, withTlsOptions, type TlsFlags } from './tls-options';

interface MetaFlags extends TlsFlags {
  config?: string;
  listen?: string;
  dataDir?: string;
  tokenFile?: string;
  leaseMs: number;
  endpoint?: string;
  region?: string;
  listingTtl?: number;
  listingEntries: number;
  logLevel: string;
  metrics?: string;
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
    .option('--config <file>', 'TOML config file whose [meta] table gives any of these flags (default /etc/cachalot/cachalot.toml if it exists)')
    .option('--listen <host:port>', 'address to serve gRPC on; port 0 takes a free one (printed); required', hostPortArg)
    .option('--data-dir <dir>', 'durable state (LMDB): the epoch; required')
    .option('--token-file <file>', 'file holding the cluster secret shared by meta, nodes and commands; required');
  return withTlsOptions(command)
    .option('--lease-ms <n>', 'a node without a heartbeat for this long is dropped', integerArg(300, 600_000), DEFAULT_LEASE_MS)
    .option('--endpoint <url>', 'S3 endpoint the shared listing cache lists (default: AWS; env AWS_ENDPOINT_URL); credentials as for mounts (AWS env, profiles)', urlArg)
    .option('--region <region>', 'S3 region (env AWS_REGION; default us-east-1)')
    .option('--listing-ttl <duration>', 'a folder listing older than this is listed again, whatever its askers accept (their --metadata-ttl bounds it too); "never" for none (default 60s)', durationArg)
    .option('--listing-entries <n>', 'bound on the listing entries held over all folders; least recently read listings go first', integerArg(1000, 100_000_000), DEFAULT_LISTING_ENTRIES)
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics', hostPortArg)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .action(async (cliFlags: MetaFlags, command: Command) => {
      let flags: ReturnType<typeof withConfigFile>;
      try {
        flags = withConfigFile(cliFlags, command, () => metaFileSettings(cliFlags.config, process.env));
      } catch (err) {
        return die(err);
      }
      const log = createLogger(flags.logLevel);
      routeGrpcLogs(log);
      const notifier = systemdNotifier(log);
      notifier.startWatchdog();
      let server;
      let tls: ClusterTls | undefined;
      try {
        const token = readClusterToken(resolve(flags.tokenFile));
        tls = readTls(tlsFiles(flags), true);
        const stores = storesFromFlags(flags, LISTING_CONNECTIONS, log);
        const listing = { stores, ttlMs: flags.listingTtl ?? DEFAULT_LISTING_TTL_MS, maxEntries: flags.listingEntries };
        server = await startMetaServer({ listen: flags.listen, dataDir: resolve(flags.dataDir), token, tls, leaseMs: flags.leaseMs, listing, metrics: flags.metrics, log });
      } catch (err) {
        return die(err);
      }
      process.stdout.write(`cachalot: meta listening on ${server.address} (epoch ${server.epoch}, lease ${flags.leaseMs} ms, ${describeTls(tls)})\n`);
      notifier.ready(`serving on ${server.address}, epoch ${server.epoch}`);
      process.on('unhandledRejection', (err) => log.error({ err: oneLine(err) }, 'unhandled rejection'));
      const running = server;
      handleServiceSignals({
        log,
        notifier,
        stop: () =>
          running.stop().then(
            () => {
              notifier.close();
              log.flush?.();
              process.exit(0);
            },
            (err) => die(err),
          ),
        // Only the log level changes live; the rest (listen, TLS, listing bounds) takes a restart.
        reload: async () => {
          const again = withConfigFile(cliFlags, command, () => metaFileSettings(cliFlags.config, process.env));
          log.level = again.logLevel;
          log.info({ logLevel: again.logLevel }, 'reloaded the config');
        },
      });
    });
}

/** The [meta] table of the config file (none when there is no file), validated. */
function metaFileSettings(given: string | undefined, env: NodeJS.ProcessEnv): MetaSettings {
  const path = configFilePath(given, env);
  return (path && loadConfigFile(path).meta) || {};
}

/**
 * Flags win over env, env over the file: a flag left at its default takes
 * the file's value; --listen, --data-dir and --token-file must come from one.
 */
function withConfigFile(flags: MetaFlags, command: Command, file: () => MetaSettings) {
  const fromFile = file();
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  const pick = <K extends keyof MetaFlags>(name: K, value: MetaFlags[K] | undefined): MetaFlags[K] => (given(name) || value === undefined ? flags[name] : value);
  const envLevel = LOG_LEVELS.find((level) => level === process.env.CACHALOT_LOG_LEVEL);
  const merged = {
    ...flags,
    listen: pick('listen', fromFile.listen),
    dataDir: pick('dataDir', fromFile.data_dir),
    tokenFile: pick('tokenFile', fromFile.token_file),
    leaseMs: pick('leaseMs', fromFile.lease_ms),
    endpoint: pick('endpoint', fromFile.endpoint),
    region: pick('region', fromFile.region),
    listingTtl: pick('listingTtl', fromFile.listing_ttl),
    listingEntries: pick('listingEntries', fromFile.listing_entries),
    metrics: pick('metrics', fromFile.metrics),
    logLevel: given('logLevel') ? flags.logLevel : (envLevel ?? fromFile.log_level ?? flags.logLevel),
    tlsCert: pick('tlsCert', fromFile.tls_cert),
    tlsKey: pick('tlsKey', fromFile.tls_key),
    tlsCa: pick('tlsCa', fromFile.tls_ca),
  };
  for (const [flag, value] of [['--listen', merged.listen], ['--data-dir', merged.dataDir], ['--token-file', merged.tokenFile]] as const) {
    if (value === undefined) throw new CachalotError('InvalidConfig', `${flag} is required (a flag, or under [meta] in the config file)`);
  }
  return merged as typeof merged & { listen: string; dataDir: string; tokenFile: string };
}
