import pino, { Logger } from 'pino';

export type { Logger };

/** JSON lines (one event a line) to stdout, or to a file for a daemon in the background. */
export function createLogger(level: string, file?: string): Logger {
  const destination = file ? pino.destination({ dest: file, mkdir: true, sync: false }) : pino.destination(1);
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** For library code and tests that want no output. */
export const silentLogger: Logger = pino({ level: 'silent' });
