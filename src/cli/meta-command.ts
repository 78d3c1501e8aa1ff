import { Command } from 'commander';
import { resolve } from 'node:path';
import { readClusterToken } from '../rpc/cluster-token';
import { routeGrpcLogs } from '../rpc/grpc-logs';
import { describeTls, readTls } from '../rpc/grpc-tls';
import type { ClusterTls } from '../rpc/types';
import { loadMetaConfig } from '../config/load-meta-config';
import { META_SETTINGS, type MetaConfig } from '../config/meta-config';
import { oneLine } from '../errors';
import { startMetaServer } from '../meta/meta-server';
import { createLogger } from '../obs/logger';
import { systemdNotifier } from '../obs/sd-notify';
import { die } from './exit';
import { storesAt } from './s3-stores';
import { handleServiceSignals } from './service-signals';
import { addSettingFlags, givenSettings } from './setting-flags';

/** S3 connections of meta's listings, per bucket. */
const LISTING_CONNECTIONS = 16;

export function metaCommand(): Command {
  const command = new Command('meta')
    .description('run the metadata service (cluster membership, shared listing cache) in the foreground (docs/CLUSTER.md)')
    .option('--config <file>', 'TOML config file whose [meta] table gives any of these flags (default /etc/cachalot/cachalot.toml if it exists)');
  return addSettingFlags(command, META_SETTINGS)
    .action(async (flags: { config?: string }, command: Command) => {
      const load = () => loadMetaConfig({ configFile: flags.config, env: process.env, flags: givenSettings(command, META_SETTINGS) });
      let config: MetaConfig;
      try {
        config = load();
      } catch (err) {
        return die(err);
      }
      const log = createLogger(config.logLevel);
      routeGrpcLogs(log);
      const notifier = systemdNotifier(log);
      notifier.startWatchdog();
      let server;
      let tls: ClusterTls | undefined;
      try {
        const token = readClusterToken(resolve(config.tokenFile));
        tls = readTls(config.tls, true);
        const listing = { stores: storesAt(config, LISTING_CONNECTIONS, log), ttlMs: config.listingTtlMs, maxEntries: config.listingEntries };
        const origin = { endpoint: config.endpoint, region: config.region };
        server = await startMetaServer({ listen: config.listen, dataDir: resolve(config.dataDir), token, tls, leaseMs: config.leaseMs, listing, origin, metrics: config.metrics, log });
      } catch (err) {
        return die(err);
      }
      process.stdout.write(`cachalot: meta listening on ${server.address} (epoch ${server.epoch}, lease ${config.leaseMs} ms, ${describeTls(tls)})\n`);
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
          const again = load();
          log.level = again.logLevel;
          log.info({ logLevel: again.logLevel }, 'reloaded the config');
        },
      });
    });
}
