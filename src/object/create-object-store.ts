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

/**
 * S3 behind bounded retries: the stack every mount reads through (its
 * requests counted in metrics), and meta lists through (no metrics there).
 */
export function createObjectStore(options: ObjectStoreOptions, log: Logger, metrics?: Metrics): ObjectStore {
  const s3 = new S3Store({
    bucket: options.bucket,
    endpoint: options.endpoint,
    region: options.region,
    requestTimeoutMs: options.requestTimeoutMs,
    maxSockets: options.maxConnections,
  });
  return new RetryingStore(
    metrics ? new InstrumentedStore(s3, metrics) : s3,
    { maxAttempts: options.maxAttempts, baseDelayMs: 50, maxDelayMs: 4000 },
    {
      onRetry: (op) => metrics?.s3Retries.inc({ op }),
      onGiveUp: (op, err) => log.error({ op, err: oneLine(err) }, 'S3 request failed after retries'),
    },
  );
}

/** One store per bucket, made on first use and kept: for meta, which lists whatever bucket its nodes mount. */
export function storePerBucket(options: Omit<ObjectStoreOptions, 'bucket'>, log: Logger): (bucket: string) => ObjectStore {
  const stores = new Map<string, ObjectStore>();
  return (bucket) => {
    let store = stores.get(bucket);
    if (!store) {
      store = createObjectStore({ ...options, bucket }, log);
      stores.set(bucket, store);
    }
    return store;
  };
}
