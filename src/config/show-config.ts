import type { MetaConfig } from './meta-config';
import type { MountConfig } from './mount-config';
import { formatSize as size } from './units';

type Shown = Record<string, string | number | boolean>;

/** Milliseconds as the config file writes them: 60s, 500ms, never. */
const formatDuration = (ms: number) => (Number.isFinite(ms) ? (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`) : 'never');
const octal = (mode: number) => `0${mode.toString(8)}`;

/** A URL with its user and password (if any) masked. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][\w+.-]*:\/\/)[^/@]*@/i, '$1****@');
}

/** A secret shown by its last 4 characters only, so that one can tell which it is. */
export function maskSecret(value: string): string {
  return value.length > 8 ? `****${value.slice(-4)}` : '****';
}

/**
 * A mount's effective settings as config-file keys (snake_case, units a
 * person reads), for `cachalot config show`. Unset optional keys are left out.
 */
export function effectiveMountSettings(c: MountConfig): Shown {
  return withoutUnset({
    source: `s3://${c.bucket}/${c.prefix}`.replace(/\/$/, ''),
    mountpoint: c.mountpoint,
    endpoint: c.endpoint && maskUrl(c.endpoint),
    region: c.region,
    cache_dir: c.cacheDir,
    ram_cache: size(c.ramCache),
    disk_cache: size(c.diskCache),
    disk_min_free: `${Math.round(c.diskMinFree * 1000) / 10}%`,
    block_size: size(c.blockSize),
    memory_limit: size(c.memory.readaheadBytes),
    readahead_max: size(c.memory.readaheadMax),
    metadata_ttl: formatDuration(c.metadataTtlMs),
    negative_ttl: formatDuration(c.negativeTtlMs),
    uid: c.uid,
    gid: c.gid,
    file_mode: octal(c.fileMode),
    dir_mode: octal(c.dirMode),
    read_only: c.readOnly,
    allow_overwrite: c.allowOverwrite,
    allow_other: c.allowOther,
    passthrough: c.passthrough,
    metrics: c.metrics,
    log_level: c.logLevel,
    log_file: c.logFile,
    request_timeout: formatDuration(c.requestTimeoutMs),
    max_attempts: c.maxAttempts,
    s3_max_connections: c.s3MaxConnections,
    drain_timeout: formatDuration(c.drainTimeoutMs),
    meta: c.cluster?.meta,
    node_id: c.cluster?.nodeId,
    peer_listen: c.cluster?.peerListen,
    token_file: c.cluster?.tokenFile,
    tls_cert: c.cluster?.tls.cert,
    tls_key: c.cluster?.tls.key,
    tls_ca: c.cluster?.tls.ca,
    peer_lz4: c.cluster?.lz4,
  });
}

/** Meta's effective settings as [meta] keys, for `cachalot config show`. */
export function effectiveMetaSettings(c: MetaConfig): Shown {
  return withoutUnset({
    listen: c.listen,
    data_dir: c.dataDir,
    token_file: c.tokenFile,
    lease_ms: c.leaseMs,
    endpoint: c.endpoint && maskUrl(c.endpoint),
    region: c.region,
    listing_ttl: formatDuration(c.listingTtlMs),
    listing_entries: c.listingEntries,
    metrics: c.metrics,
    log_level: c.logLevel,
    tls_cert: c.tls.cert,
    tls_key: c.tls.key,
    tls_ca: c.tls.ca,
  });
}

function withoutUnset(shown: Record<string, string | number | boolean | undefined>): Shown {
  return Object.fromEntries(Object.entries(shown).filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined));
}

/** Where the AWS credentials come from, as far as the environment says, secrets masked. */
export function credentialSources(env: NodeJS.ProcessEnv): Shown {
  const shown: Shown = {};
  if (env.AWS_PROFILE) shown.aws_profile = env.AWS_PROFILE;
  if (env.AWS_ACCESS_KEY_ID) shown.aws_access_key_id = maskSecret(env.AWS_ACCESS_KEY_ID);
  if (env.AWS_SECRET_ACCESS_KEY) shown.aws_secret_access_key = '****';
  if (env.AWS_SESSION_TOKEN) shown.aws_session_token = '****';
  if (Object.keys(shown).length === 0) shown.source = 'the AWS default chain (profile files, instance role)';
  return shown;
}
