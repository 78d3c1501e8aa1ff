import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CachalotError } from '../errors';
import { parseS3Uri } from '../object/s3-uri';
import { configFilePath, loadConfigFile, validate, type ConfigFile, type RawSettings } from './config-file';
import { checkDiskCacheFits } from './disk-fit';
import { planMemory } from './memory-plan';
import { ClusterNodeConfig, MOUNT_DEFAULTS, MountConfig, MountSettings, mountSettingsSchema } from './mount-config';

/** The AWS conventions this tool follows: endpoint and region from the environment. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): RawSettings {
  const out: RawSettings = {};
  if (env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL) out.endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  if (env.AWS_REGION ?? env.AWS_DEFAULT_REGION) out.region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (env.CACHALOT_LOG_LEVEL) out.log_level = env.CACHALOT_LOG_LEVEL;
  return out;
}

/** Validates one source of mount settings; the first problem becomes one line naming its key. */
export function validateSettings(raw: RawSettings, origin: string): MountSettings {
  return validate(mountSettingsSchema, raw, origin);
}

export interface MountSources {
  /** s3://BUCKET[/PREFIX] and the mountpoint; from [mounts.NAME] when not given. */
  uri?: string;
  mountpoint?: string;
  /** --config; else CACHALOT_CONFIG, else /etc/cachalot/cachalot.toml if it exists; null: no file (the demo). */
  configFile?: string | null;
  /** --name: the [mounts.NAME] table of the config file (a systemd instance). */
  name?: string;
  flags: RawSettings;
  env: NodeJS.ProcessEnv;
}

/**
 * Flags win over env, env over the file ([mounts.NAME] over its top-level
 * keys); each source is validated so errors name where they came from.
 */
export function loadMountConfig(sources: MountSources): MountConfig {
  const path = sources.configFile === null ? undefined : configFilePath(sources.configFile, sources.env);
  const file: ConfigFile = path ? loadConfigFile(path) : {};
  const { mounts, meta: _meta, ...shared } = file;
  const entry = sources.name === undefined ? undefined : mounts?.[sources.name];
  if (sources.name !== undefined && !entry) {
    throw new CachalotError('InvalidConfig', `--name ${sources.name}: no [mounts.${sources.name}] in ${path ?? 'the config file (none found)'}`);
  }
  const { source, mountpoint: entryMountpoint, ...own }: Partial<NonNullable<typeof entry>> = entry ?? {};
  const uri = sources.uri ?? source;
  const mountpoint = sources.mountpoint ?? entryMountpoint;
  if (uri === undefined || mountpoint === undefined) {
    throw new CachalotError('InvalidConfig', 'missing SOURCE and MOUNTPOINT (or --name NAME of a [mounts.NAME] in the config file)');
  }
  const { bucket, prefix } = parseS3Uri(uri);
  // A named mount gets its own cache folder under the shared one: one daemon per cache dir.
  const namedCacheDir = sources.name !== undefined && own.cache_dir === undefined ? join(shared.cache_dir ?? MOUNT_DEFAULTS.cacheDir, sources.name) : undefined;
  const env = validateSettings(settingsFromEnv(sources.env), 'environment');
  const flags = validateSettings(dropUndefined(sources.flags), 'flag');
  const s: MountSettings = { ...shared, ...own, ...(namedCacheDir && { cache_dir: namedCacheDir }), ...env, ...flags };
  const d = MOUNT_DEFAULTS;
  const ramCache = s.ram_cache ?? d.ramCache;
  const blockSize = s.block_size ?? d.blockSize;
  const cacheDir = s.cache_dir ?? d.cacheDir;
  const diskCache = s.disk_cache ?? d.diskCache;
  // A size someone set must fit the disk; the default is bounded by the disk tier's free-space floor instead.
  if (s.disk_cache !== undefined) checkDiskCacheFits(diskCache, cacheDir);
  return {
    bucket,
    prefix,
    mountpoint,
    endpoint: s.endpoint,
    region: s.region ?? d.region,
    cacheDir,
    ramCache,
    diskCache,
    diskMinFree: s.disk_min_free ?? d.diskMinFree,
    blockSize,
    memory: planMemory({ ramCache, blockSize, memoryLimit: s.memory_limit, readaheadMax: s.readahead_max }),
    metadataTtlMs: s.metadata_ttl ?? d.metadataTtlMs,
    negativeTtlMs: s.negative_ttl ?? d.negativeTtlMs,
    uid: s.uid ?? process.getuid?.() ?? 0,
    gid: s.gid ?? process.getgid?.() ?? 0,
    fileMode: s.file_mode ?? d.fileMode,
    dirMode: s.dir_mode ?? d.dirMode,
    readOnly: s.read_only ?? false,
    allowOther: s.allow_other ?? false,
    passthrough: s.passthrough ?? true,
    metrics: s.metrics,
    logLevel: s.log_level ?? d.logLevel,
    logFile: s.log_file,
    requestTimeoutMs: s.request_timeout ?? d.requestTimeoutMs,
    maxAttempts: s.max_attempts ?? d.maxAttempts,
    s3MaxConnections: s.s3_max_connections ?? d.s3MaxConnections,
    drainTimeoutMs: s.drain_timeout ?? d.drainTimeoutMs,
    cluster: clusterNode(s, mountpoint),
  };
}

/** The cluster keys go together: meta needs the token, and the others mean nothing without meta. */
function clusterNode(s: MountSettings, mountpoint: string): ClusterNodeConfig | undefined {
  if (s.meta === undefined) {
    const stray = (['node_id', 'peer_listen', 'token_file', 'tls_cert', 'tls_key', 'tls_ca', 'peer_lz4'] as const).find((key) => s[key] !== undefined);
    if (stray) throw new CachalotError('InvalidConfig', `"${stray}" needs "meta" (the metadata service's HOST:PORT)`);
    return undefined;
  }
  if (s.token_file === undefined) throw new CachalotError('InvalidConfig', `"meta" needs "token_file" (the cluster secret)`);
  return {
    meta: s.meta,
    nodeId: s.node_id ?? defaultNodeId(mountpoint),
    peerListen: s.peer_listen,
    tokenFile: s.token_file,
    tls: { cert: s.tls_cert, key: s.tls_key, ca: s.tls_ca },
    lz4: s.peer_lz4 ?? true,
  };
}

/** Unique per host and mountpoint, and the same across restarts of the mount (so a restart rejoins as itself). */
function defaultNodeId(mountpoint: string): string {
  const host = hostname().replace(/[^\w.:-]/g, '-') || 'node';
  return `${host}-${createHash('sha256').update(mountpoint).digest('hex').slice(0, 8)}`;
}

function dropUndefined(raw: RawSettings): RawSettings {
  return Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
}
