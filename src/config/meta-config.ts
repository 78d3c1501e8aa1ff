import type { ClusterNodeConfig } from './mount-config';
import { schemaOf, type Settings } from './setting';
import { duration, hostPort, integer, text } from './setting-kinds';
import { LOG_LEVEL_SETTING, METRICS_SETTING, S3_ORIGIN_SETTINGS, TLS_SETTINGS, TOKEN_FILE_SETTING } from './shared-settings';

/** The validated settings of the metadata service (`cachalot meta`, cachalot-meta.service). */
export interface MetaConfig {
  listen: string;
  dataDir: string;
  tokenFile: string;
  leaseMs: number;
  /** Where the shared listing cache lists; meta tells its clients too (the Origin call). */
  endpoint?: string;
  region: string;
  listingTtlMs: number;
  listingEntries: number;
  metrics?: string;
  logLevel: string;
  tls: ClusterNodeConfig['tls'];
}

/**
 * Every setting of meta, declared once (src/config/setting.ts): a key of the
 * [meta] table and a flag of `cachalot meta`. Order is --help's.
 */
export const META_SETTINGS = {
  listen: { schema: hostPort(), flag: '<host:port>', help: 'address to serve gRPC on; port 0 takes a free one, printed at start', required: true },
  data_dir: { schema: text(), flag: '<dir>', help: 'durable state (LMDB): the epoch', path: true, required: true },
  token_file: { ...TOKEN_FILE_SETTING, required: true },
  ...TLS_SETTINGS,
  lease_ms: { schema: integer(300, 600_000), flag: '<n>', help: 'a node without a heartbeat for this long (ms) is dropped', default: 10_000 },
  ...S3_ORIGIN_SETTINGS,
  listing_ttl: {
    schema: duration(),
    flag: '<duration>',
    help: 'a folder listing older than this is listed again, whatever its askers accept (their --metadata-ttl bounds it too); "never" for none',
    default: '60s',
  },
  listing_entries: {
    schema: integer(1000, 100_000_000),
    flag: '<n>',
    help: 'bound on the listing entries held over all folders (about 200 B each); least recently read listings go first',
    default: 1_000_000,
  },
  metrics: METRICS_SETTING,
  log_level: LOG_LEVEL_SETTING,
} as const satisfies Settings;

/** The [meta] table of the config file; unknown keys are errors. */
export const metaSettingsSchema = schemaOf(META_SETTINGS);
