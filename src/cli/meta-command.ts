import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { readClusterToken } from '../cluster/cluster-token';
import { routeGrpcLogs } from '../cluster/grpc-logs';
import { describeTls, readTls, type ClusterTls } from '../cluster/grpc-tls';
import { oneLine } from '../errors';
import { startMetaServer } from '../meta/meta-server';
import { createLogger, LOG_LEVELS } from '../obs/logger';
import { die } from './exit';
import { hostPortArg, integerArg } from './option-parsers';
import { tlsFiles, withTlsOptions, type TlsFlags } from './tls-options';

interface MetaFlags extends TlsFlags {
  listen: string;
  dataDir: string;
  tokenFile: string;
  leaseMs: number;
  logLevel: string;
}

const DEFAULT_LEASE_MS = 10_000;

export function metaCommand(): Command {
  const command = new Command('meta')
    .description('run the metadata service (cluster membership) in the foreground (docs/CLUSTER.md)')
    .requiredOption('--listen <host:port>', 'address to serve gRPC on; port 0 takes a free one (printed)', hostPortArg)
    .requiredOption('--data-dir <dir>', 'durable state (LMDB): the epoch')
    .requiredOption('--token-file <file>', 'file holding the cluster secret shared by meta, nodes and commands');
  return withTlsOptions(command)
    .option('--lease-ms <n>', 'a node without a heartbeat for this long is dropped', integerArg(300, 600_000), DEFAULT_LEASE_MS)
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
        server = await startMetaServer({ listen: flags.listen, dataDir: resolve(flags.dataDir), token, tls, leaseMs: flags.leaseMs, log });
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
