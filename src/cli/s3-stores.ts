import { settingsFromEnv } from '../config/load-config';
import { MOUNT_DEFAULTS } from '../config/mount-config';
import { storePerBucket } from '../object/create-object-store';
import type { ObjectStore } from '../object/types';
import type { Logger } from '../obs/logger';

/**
 * S3 stores for a command that lists whatever bucket it is asked about
 * (meta's listing cache, warm-up's targets): --endpoint and --region win
 * over the AWS environment, as for mounts; a mount's timeouts and retries.
 */
export function storesFromFlags(flags: { endpoint?: string; region?: string }, maxConnections: number, log: Logger): (bucket: string) => ObjectStore {
  const env = settingsFromEnv(process.env) as { endpoint?: string; region?: string };
  return storePerBucket(
    {
      endpoint: flags.endpoint ?? env.endpoint,
      region: flags.region ?? env.region ?? MOUNT_DEFAULTS.region,
      requestTimeoutMs: MOUNT_DEFAULTS.requestTimeoutMs,
      maxAttempts: MOUNT_DEFAULTS.maxAttempts,
      maxConnections,
    },
    log,
  );
}
