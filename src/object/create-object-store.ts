import type { Logger } from '../obs/logger';
import type { Metrics } from '../obs/metrics';
import { oneLine } from '../errors';
import { InstrumentedStore } from './instrumented-store';
import { RetryingStore } from './retrying-store';
import { S3Store } from './s3-store';
import type { ObjectStore } from './types';

export interface ObjectStoreOptions {
  bucket: string;
  endpoint?: string;
  region: string;
  requestTimeoutMs: number;
  maxAttempts: number;
  maxConnections: number;
}

/** S3, counted per request, behind bounded retries: the stack every mount reads through. */
export function createObjectStore(options: ObjectStoreOptions, metrics: Metrics, log: Logger): ObjectStore {
  const s3 = new S3Store({
    bucket: options.bucket,
    endpoint: options.endpoint,
    region: options.region,
    requestTimeoutMs: options.requestTimeoutMs,
    maxSockets: options.maxConnections,
  });
  return new RetryingStore(
    new InstrumentedStore(s3, metrics),
    { maxAttempts: options.maxAttempts, baseDelayMs: 50, maxDelayMs: 4000 },
    {
      onRetry: (op) => metrics.s3Retries.inc({ op }),
      onGiveUp: (op, err) => log.error({ op, err: oneLine(err) }, 'S3 request failed after retries'),
    },
  );
}
