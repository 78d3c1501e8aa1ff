import { oneLine } from '../errors';
import { nativeAddon } from '../native-addon';
import type { Logger } from './logger';

const notifyAddon = nativeAddon<{ sendDatagram(path: string, message: string): void }>('notify');

/**
 * The sd_notify protocol towards systemd (Type=notify units): READY=1 once
 * the service answers, STOPPING=1 when it begins to stop, WATCHDOG=1 pings
 * while it runs. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
 * Node has no unix datagram socket, so the datagram goes out through
 * native/notify (docs/DEPLOY.md says why not a package or systemd-notify).
 */
export interface Notifier {
  ready(status: string): void;
  stopping(status: string): void;
  /** Pings WATCHDOG=1 at half the interval systemd asked for (WATCHDOG_USEC), from the event loop: a stuck loop stops the pings. */
  startWatchdog(): void;
  /** Stops the pings (before exit). */
  close(): void;
}

export function systemdNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env): Notifier {
  const socket = env.NOTIFY_SOCKET;
  let timer: NodeJS.Timeout | undefined;
  let warned = false;
  const send = (message: string) => {
    if (!socket) return;
    try {
      notifyAddon().sendDatagram(socket, message);
    } catch (err) {
      // systemd restarting, or a socket gone: the service itself is fine; say so once, not at every ping.
      if (!warned) log.warn({ socket, message: message.split('\n')[0], err: oneLine(err) }, 'sd_notify failed');
      warned = true;
    }
  };
  return {
    ready: (status) => send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`),
    stopping: (status) => send(`STOPPING=1\nSTATUS=${status}`),
    startWatchdog: () => {
      const intervalMs = watchdogIntervalMs(env);
      if (!socket || intervalMs === undefined || timer) return;
      send('WATCHDOG=1');
      timer = setInterval(() => send('WATCHDOG=1'), intervalMs / 2);
      timer.unref();
    },
    close: () => clearInterval(timer),
  };
}

/** WATCHDOG_USEC in ms, when it is meant for this process (WATCHDOG_PID unset or ours). */
function watchdogIntervalMs(env: NodeJS.ProcessEnv): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== process.pid) return undefined;
  return usec / 1000;
}
