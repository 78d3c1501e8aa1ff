import { MOUNT_SETTINGS } from '../config/mount-config';
import { defaultsOf } from '../config/setting';
import { storePerBucket } from '../object/create-object-store';
import type { ObjectStore } from '../object/types';
import type { Logger } from '../obs/logger';

/** A mount's S3 request bounds: commands that list (meta, warm-up) retry as mounts do. */
const { request_timeout: requestTimeoutMs, max_attempts: maxAttempts } = defaultsOf(MOUNT_SETTINGS);

/**
 * S3 stores for a command that lists whatever bucket it is asked about
 * (meta's listing cache, warm-up's targets), at an endpoint and region the
 * command has settled (flags, environment, file, or meta's), with a mount's
 * timeouts and retries.
 */
export function storesAt(origin: { endpoint?: string; region: string }, maxConnections: number, log: Logger): (bucket: string) => ObjectStore {
  return storePerBucket({ endpoint: origin.endpoint, region: origin.region, requestTimeoutMs: requestTimeoutMs!, maxAttempts: maxAttempts!, maxConnections }, log);
}
