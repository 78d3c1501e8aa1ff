import { Command } from 'commander';
import { resolve } from 'node:path';
import { loadMountConfig } from '../config/load-config';
import { MOUNT_SETTINGS, type MountConfig } from '../config/mount-config';
import { CachalotError, oneLine } from '../errors';
import { systemdNotifier } from '../obs/sd-notify';
import { createLogger, Logger } from '../obs/logger';
import { notReady, reportReadiness, reportsReadiness, runInBackground } from '../mount/background';
import { startMount } from '../mount/mount-session';
import { die } from './exit';
import { handleServiceSignals } from './service-signals';
import { addSettingFlags, givenSettings } from './setting-flags';

/** The flags of `cachalot mount` that are not settings of the mount. */
interface MountFlags {
  config?: string;
  name?: string;
  foreground?: boolean;
}

export function mountCommand(): Command {
  const command = new Command('mount')
    .description('mount s3://BUCKET[/PREFIX] at MOUNTPOINT (returns once the mount answers)')
    .argument('[source]', 's3://BUCKET[/PREFIX] (or from [mounts.NAME] with --name)')
    .argument('[mountpoint]', 'an existing empty directory (or from [mounts.NAME] with --name)')
    .option('--config <file>', 'TOML config file (flags win over env, env over the file; default /etc/cachalot/cachalot.toml if it exists)')
    .option('--name <name>', 'the mount [mounts.NAME] of the config file (what cachalot@NAME.service runs)')
    .option('--foreground', 'stay in the foreground; Ctrl-C unmounts');
  return addSettingFlags(command, MOUNT_SETTINGS)
    .action(async (source: string | undefined, mountpoint: string | undefined, flags: MountFlags, command: Command) => {
      if (source !== undefined && mountpoint === undefined) return die(new CachalotError('InvalidConfig', 'missing MOUNTPOINT after SOURCE'));
      const load = () =>
        loadMountConfig({
          uri: source,
          mountpoint: mountpoint === undefined ? undefined : resolve(mountpoint),
          configFile: flags.config,
          name: flags.name,
          env: process.env,
          flags: givenSettings(command, MOUNT_SETTINGS),
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
