import pino, { Logger } from 'pino';

export type { Logger };

/** What every log-level flag and key accepts. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Log bytes held in memory while the log file cannot take them; beyond, lines are dropped. */
const MAX_PENDING_LOG_BYTES = 16 * 2 ** 20;

/** JSON lines (one event a line) to stdout, or to a file for a daemon in the background. */
export function createLogger(level: string, file?: string): Logger {
  const destination = file ? pino.destination({ dest: file, mkdir: true, sync: false, maxLength: MAX_PENDING_LOG_BYTES }) : pino.destination(1);
  // A log that cannot be written (its disk full: often the cache disk) loses
  // lines; it must not take the mount down with an uncaught error.
  destination.on('error', () => undefined);
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** For library code and tests that want no output. */
export const silentLogger: Logger = pino({ level: 'silent' });
