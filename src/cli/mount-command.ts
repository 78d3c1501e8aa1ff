import { Command } from 'commander';
import { resolve } from 'node:path';
import { loadMountConfig } from '../config/load-config';
import type { MountConfig } from '../config/mount-config';
import { CachalotError, oneLine } from '../errors';
import { systemdNotifier } from '../obs/sd-notify';
import { createLogger, Logger } from '../obs/logger';
import { notReady, reportReadiness, reportsReadiness, runInBackground } from '../mount/background';
import { startMount } from '../mount/mount-session';
import { die } from './exit';
import { handleServiceSignals } from './service-signals';
import { withTlsOptions, type TlsFlags } from './tls-options';

interface MountFlags extends TlsFlags {
  config?: string;
  name?: string;
  endpoint?: string;
  region?: string;
  cacheDir?: string;
  ramCache?: string;
  diskCache?: string;
  diskMinFree?: string;
  blockSize?: string;
  memoryLimit?: string;
  readaheadMax?: string;
  metadataTtl?: string;
  negativeTtl?: string;
  uid?: string;
  gid?: string;
  fileMode?: string;
  dirMode?: string;
  allowOther?: boolean;
  readOnly?: boolean;
  passthrough?: boolean;
  metrics?: string;
  logLevel?: string;
  logFile?: string;
  foreground?: boolean;
  meta?: string;
  nodeId?: string;
  peerListen?: string;
  peerLz4?: boolean;
  tokenFile?: string;
}

const int = (v: string | undefined) => (v === undefined ? undefined : /^\d+$/.test(v) ? Number(v) : v);

export function mountCommand(): Command {
  const command = new Command('mount')
    .description('mount s3://BUCKET[/PREFIX] at MOUNTPOINT (returns once the mount answers)')
    .argument('[source]', 's3://BUCKET[/PREFIX] (or from [mounts.NAME] with --name)')
    .argument('[mountpoint]', 'an existing empty directory (or from [mounts.NAME] with --name)')
    .option('--config <file>', 'TOML config file (flags win over env, env over the file; default /etc/cachalot/cachalot.toml if it exists)')
    .option('--name <name>', 'the mount [mounts.NAME] of the config file (what cachalot@NAME.service runs)')
    .option('--endpoint <url>', 'S3 endpoint URL (default: AWS; env AWS_ENDPOINT_URL)')
    .option('--region <region>', 'S3 region (env AWS_REGION; default us-east-1)')
    .option('--cache-dir <dir>', 'cache and log directory (default /var/cache/cachalot)')
    .option('--ram-cache <size>', 'memory budget of block data: readahead, disk writes, and the RAM tier with the rest; 0: no RAM tier (default 1GiB)')
    .option('--disk-cache <size>', 'disk cache tier size under --cache-dir, 0 for none (default 64GiB)')
    .option('--disk-min-free <percent>', 'share of the cache disk always left free (default 5%)')
    .option('--block-size <size>', 'block size for ranged reads, a power of two (default 8MiB)')
    .option('--memory-limit <size>', "readahead's share of --ram-cache, for all open files (default a quarter, at most 1GiB)")
    .option('--readahead-max <size>', 'largest readahead window of one file (default 128MiB, at most half of --memory-limit)')
    .option('--metadata-ttl <duration>', 'how long listings and attributes are trusted, or "never" (default 60s)')
    .option('--negative-ttl <duration>', 'how long a missing name is trusted (default 5s)')
    .option('--uid <uid>', 'owner of every file (default: the mounting user)')
    .option('--gid <gid>', 'group of every file (default: the mounting group)')
    .option('--file-mode <mode>', 'permission bits of files, octal (default 0644)')
    .option('--dir-mode <mode>', 'permission bits of directories, octal (default 0755)')
    .option('--allow-other', 'let other users see the mount')
    .option('--read-only', 'refuse every write (writes are not supported yet in any case)')
    .option('--no-passthrough', 'serve every read through the daemon, never let the kernel read cached files itself (default: FUSE passthrough where the kernel allows)')
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics')
    .option('--log-level <level>', 'trace, debug, info, warn or error (default info)')
    .option('--log-file <file>', 'log file (default: stdout in the foreground, CACHE_DIR/cachalot.log otherwise)')
    .option('--foreground', 'stay in the foreground; Ctrl-C unmounts')
    .option('--meta <host:port>', 'join the cluster of this metadata service (docs/CLUSTER.md)')
    .option('--node-id <id>', "this node's id in the cluster (default: hostname and a hash of the mountpoint)")
    .option('--peer-listen <host:port>', 'where this node serves its cached blocks to the cluster (peer service; port 0: any free port)')
    .option('--token-file <file>', 'file holding the cluster secret; required with --meta')
    .option('--no-peer-lz4', 'send and take blocks between peers raw, never lz4-compressed (default: lz4 for the blocks it shrinks by a tenth)');
  return withTlsOptions(command)
    .action(async (source: string | undefined, mountpoint: string | undefined, flags: MountFlags, command: Command) => {
      if (source !== undefined && mountpoint === undefined) return die(new CachalotError('InvalidConfig', 'missing MOUNTPOINT after SOURCE'));
      const load = () =>
        loadMountConfig({
          uri: source,
          mountpoint: mountpoint === undefined ? undefined : resolve(mountpoint),
          configFile: flags.config,
          name: flags.name,
          env: process.env,
          flags: {
            endpoint: flags.endpoint,
            region: flags.region,
            cache_dir: flags.cacheDir,
            ram_cache: flags.ramCache,
            disk_cache: flags.diskCache,
            disk_min_free: flags.diskMinFree,
            block_size: flags.blockSize,
            memory_limit: flags.memoryLimit,
            readahead_max: flags.readaheadMax,
            metadata_ttl: flags.metadataTtl,
            negative_ttl: flags.negativeTtl,
            uid: int(flags.uid),
            gid: int(flags.gid),
            file_mode: flags.fileMode,
            dir_mode: flags.dirMode,
            allow_other: flags.allowOther,
            // Commander sets it true unless --no-passthrough is given: only the flag's false may override the file.
            passthrough: flags.passthrough === false ? false : undefined,
            read_only: flags.readOnly,
            metrics: flags.metrics,
            log_level: flags.logLevel,
            log_file: flags.logFile,
            meta: flags.meta,
            node_id: flags.nodeId,
            peer_listen: flags.peerListen,
            token_file: flags.tokenFile && resolve(flags.tokenFile),
            tls_cert: flags.tlsCert && resolve(flags.tlsCert),
            tls_key: flags.tlsKey && resolve(flags.tlsKey),
            tls_ca: flags.tlsCa && resolve(flags.tlsCa),
            // Commander sets it true unless --no-peer-lz4 is given: only the flag's false may override the file.
            peer_lz4: flags.peerLz4 === false ? false : undefined,
          },
        });
      let config: MountConfig;
      try {
        config = load();
      } catch (err) {
        return die(err);
      }
      if (!flags.foreground) {
        const logFile = config.logFile ?? resolve(config.cacheDir, 'cachalot.log');
        const args = command.parent ? process.argv.slice(2) : command.args;
        return runInBackground(args, logFile, 60_000).then((pid) => {
          process.stdout.write(`cachalot: mounted s3://${config.bucket}/${config.prefix} at ${config.mountpoint} (pid ${pid}, log ${logFile})\n`);
          process.exit(0);
        }, die);
      }
      await runForeground(config, createLogger(config.logLevel, config.logFile), load);
    });
}

/**
 * Mounts, then serves until SIGINT/SIGTERM or an outside unmount. Under
 * systemd (Type=notify) it says READY=1 once the mount answers, pings the
 * watchdog, and says STOPPING=1 when it begins to stop; SIGHUP reloads.
 */
export async function runForeground(config: MountConfig, log: Logger, reload: () => MountConfig): Promise<void> {
  const background = reportsReadiness();
  const notifier = systemdNotifier(log);
  notifier.startWatchdog();
  let session;
  try {
    session = await startMount(config, log);
  } catch (err) {
    log.error({ err: oneLine(err) }, 'mount failed');
    if (!background) die(err);
    reportReadiness(notReady(err));
    process.exit(1);
  }
  reportReadiness({ ready: true });
  notifier.ready(`serving s3://${config.bucket}/${config.prefix} at ${config.mountpoint}`);
  // A library's stray rejection (lmdb failing a commit on a full disk) must
  // not end a daemon whose mount other processes depend on: log it, serve on.
  process.on('unhandledRejection', (err) => log.error({ err: oneLine(err) }, 'unhandled rejection'));
  const running = session;
  handleServiceSignals({
    log,
    notifier,
    stop: () => running.stop().catch((err) => log.error({ err: oneLine(err) }, 'unmount failed')),
    reload: async () => {
      const waiting = await running.reconfigure(reload());
      if (waiting.length > 0) log.warn({ settings: waiting }, 'changed in the config; they take effect at the next restart');
    },
  });
  await session.ended;
  notifier.close();
  log.flush?.();
  process.exit(0);
}
