import { setLogger } from '@grpc/grpc-js';
import { format } from 'node:util';
import type { Logger } from '../obs/logger';

/**
 * grpc-js writes its own errors to stderr ("E No address added out of total
 * 1 resolved"): a second line beside the one-line error we report for the
 * same failure. Send them to our log, at debug level, instead.
 */
export function routeGrpcLogs(log: Logger): void {
  const write = (...args: unknown[]) => log.debug({ grpc: format(...args) }, 'grpc-js');
  setLogger({ error: write, info: write, debug: write });
}
