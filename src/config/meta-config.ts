import { z } from 'zod';
import { LOG_LEVELS } from '../obs/logger';
import { HOST_PORT_PATTERN } from './host-port';
import { parseDuration } from './units';

const hostPort = z.string().regex(HOST_PORT_PATTERN, 'HOST:PORT');

/**
 * The [meta] table of the config file: the metadata service's settings, one
 * key per `cachalot meta` flag (snake_case). Flags win over env, env over
 * these (src/cli/meta-command.ts).
 */
export const metaSettingsSchema = z
  .object({
    listen: hostPort.optional(),
    data_dir: z.string().min(1).optional(),
    token_file: z.string().min(1).optional(),
    lease_ms: z.number().int().min(300).max(600_000).optional(),
    endpoint: z.string().url().optional(),
    region: z.string().min(1).optional(),
    listing_ttl: z.union([z.string(), z.number()]).transform((v) => parseDuration(v, 'listing_ttl')).optional(),
    listing_entries: z.number().int().min(1000).max(100_000_000).optional(),
    log_level: z.enum(LOG_LEVELS).optional(),
    metrics: hostPort.optional(),
    tls_cert: z.string().min(1).optional(),
    tls_key: z.string().min(1).optional(),
    tls_ca: z.string().min(1).optional(),
  })
  .strict();

export type MetaSettings = z.infer<typeof metaSettingsSchema>;
