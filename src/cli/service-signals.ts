import { oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import type { Notifier } from '../obs/sd-notify';

export interface ServiceHooks {
  log: Logger;
  notifier: Notifier;
  /** SIGTERM, SIGINT: stop serving; the caller exits when it is done. */
  stop(signal: string): void;
  /** SIGHUP: read the config again and apply what can change live. */
  reload(): Promise<void>;
}

/**
 * The signals of a long-running command (a mount in the foreground, meta):
 * SIGTERM and SIGINT stop it once (STOPPING=1 to systemd), SIGHUP reloads.
 * A reload that fails keeps the running config and says why in one line.
 */
export function handleServiceSignals(hooks: ServiceHooks): void {
  const { log, notifier } = hooks;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    notifier.stopping(`stopping (${signal})`);
    hooks.stop(signal);
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    hooks.reload().catch((err) => log.error({ err: oneLine(err) }, 'config reload failed; the running config stays'));
  });
}
