import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse as parseToml } from 'smol-toml';
import { ZodError } from 'zod';
import { CachalotError } from '../errors';
import { parseS3Uri } from '../object/s3-uri';
import { planMemory } from './memory-plan';
import { ClusterNodeConfig, MOUNT_DEFAULTS, MountConfig, MountSettings, mountSettingsSchema } from './mount-config';

type RawSettings = Record<string, unknown>;

/** Reads a TOML config file into raw settings; a missing or malformed file is a one-line error. */
export function readConfigFile(path: string): RawSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CachalotError('InvalidConfig', `config file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
  }
  try {
    return parseToml(text) as RawSettings;
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    throw new CachalotError('InvalidConfig', `config file ${path}: invalid TOML: ${first}`, { cause: err });
  }
}

/** The AWS conventions this tool follows: endpoint and region from the environment. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): RawSettings {
  const out: RawSettings = {};
  if (env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL) out.endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  if (env.AWS_REGION ?? env.AWS_DEFAULT_REGION) out.region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (env.CACHALOT_LOG_LEVEL) out.log_level = env.CACHALOT_LOG_LEVEL;
  return out;
}

/** Validates merged settings; the first problem becomes one line naming its key. */
export function validateSettings(raw: RawSettings, origin: string): MountSettings {
  try {
    return mountSettingsSchema.parse(raw);
  } catch (err) {
    if (err instanceof CachalotError) throw err;
    if (err instanceof ZodError) {
      const issue = err.issues[0];
      const key = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '');
      const detail = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
      throw new CachalotError('InvalidConfig', `${origin}: "${key}": ${detail}`, { cause: err });
    }
    throw err;
  }
}

export interface MountSources {
  uri: string;
  mountpoint: string;
  configFile?: string;
  flags: RawSettings;
  env: NodeJS.ProcessEnv;
}

/** Flags win over env, env over the config file; each source is validated so errors name where they came from. */
export function loadMountConfig(sources: MountSources): MountConfig {
  const { bucket, prefix } = parseS3Uri(sources.uri);
  const file = sources.configFile ? validateSettings(readConfigFile(sources.configFile), `config file ${sources.configFile}`) : {};
  const env = validateSettings(settingsFromEnv(sources.env), 'environment');
  const flags = validateSettings(dropUndefined(sources.flags), 'flag');
  const s: MountSettings = { ...file, ...env, ...flags };
  const d = MOUNT_DEFAULTS;
  const ramCache = s.ram_cache ?? d.ramCache;
  const blockSize = s.block_size ?? d.blockSize;
  return {
    bucket,
    prefix,
    mountpoint: sources.mountpoint,
    endpoint: s.endpoint,
    region: s.region ?? d.region,
    cacheDir: s.cache_dir ?? d.cacheDir,
    ramCache,
    diskCache: s.disk_cache ?? d.diskCache,
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
    metrics: s.metrics,
    logLevel: s.log_level ?? d.logLevel,
    logFile: s.log_file,
    requestTimeoutMs: s.request_timeout ?? d.requestTimeoutMs,
    maxAttempts: s.max_attempts ?? d.maxAttempts,
    s3MaxConnections: s.s3_max_connections ?? d.s3MaxConnections,
    cluster: clusterNode(s, sources.mountpoint),
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
