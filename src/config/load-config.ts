import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CachalotError } from '../errors';
import { parseS3Uri } from '../object/s3-uri';
import { findConfigFile, loadConfigFile, type ConfigFile } from './config-file';
import { checkDiskCacheFits } from './disk-fit';
import { planMemory } from './memory-plan';
import { CLUSTER_KEYS, MOUNT_SETTINGS, type ClusterNodeConfig, type MountConfig } from './mount-config';
import { envLayer, fileLayer, flagLayer, mergeLayers, type MergedSettings, type RawSettings, type SettingLayer } from './setting-sources';

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
  const fileRef = sources.configFile === null ? undefined : findConfigFile(sources.configFile, sources.env);
  const file: ConfigFile = fileRef ? loadConfigFile(fileRef) : {};
  const { mounts, meta: _meta, ...shared } = file;
  const entry = sources.name === undefined ? undefined : mounts?.[sources.name];
  if (sources.name !== undefined && !entry) {
    throw new CachalotError('InvalidConfig', `--name ${sources.name}: no [mounts.${sources.name}] in ${fileRef?.label ?? 'the config file (none found)'}`);
  }
  const { source, mountpoint: entryMountpoint, ...own }: Partial<NonNullable<typeof entry>> = entry ?? {};
  const uri = sources.uri ?? source;
  const mountpoint = sources.mountpoint ?? entryMountpoint;
  if (uri === undefined || mountpoint === undefined) {
    throw new CachalotError('InvalidConfig', 'missing SOURCE and MOUNTPOINT (or --name NAME of a [mounts.NAME] in the config file)');
  }
  const { bucket, prefix } = parseS3Uri(uri);
  const layers: SettingLayer[] = fileRef ? [fileLayer(shared, fileRef.label)] : [];
  if (fileRef && sources.name !== undefined) {
    // A named mount gets its own cache folder under the shared one: one daemon per cache dir.
    const cacheDir = own.cache_dir ?? join(shared.cache_dir ?? MOUNT_SETTINGS.cache_dir.default, sources.name);
    layers.push(fileLayer({ ...own, cache_dir: cacheDir }, fileRef.label, `mounts.${sources.name}.`));
  }
  layers.push(envLayer(MOUNT_SETTINGS, sources.env), flagLayer(MOUNT_SETTINGS, sources.flags));
  const merged = mergeLayers(MOUNT_SETTINGS, layers);
  const s = merged.values;
  // A size someone set must fit the disk; the default is bounded by the disk tier's free-space floor instead.
  if (merged.isSet('disk_cache')) checkDiskCacheFits(s.disk_cache, s.cache_dir, merged.name('disk_cache'));
  return {
    bucket,
    prefix,
    mountpoint,
    endpoint: s.endpoint,
    region: s.region,
    cacheDir: s.cache_dir,
    ramCache: s.ram_cache,
    diskCache: s.disk_cache,
    diskMinFree: s.disk_min_free,
    blockSize: s.block_size,
    memory: planMemory({ ramCache: s.ram_cache, blockSize: s.block_size, memoryLimit: s.memory_limit, readaheadMax: s.readahead_max }, merged.name),
    metadataTtlMs: s.metadata_ttl,
    negativeTtlMs: s.negative_ttl,
    uid: s.uid ?? process.getuid?.() ?? 0,
    gid: s.gid ?? process.getgid?.() ?? 0,
    fileMode: s.file_mode,
    dirMode: s.dir_mode,
    readOnly: s.read_only,
    allowOverwrite: s.allow_overwrite,
    allowOther: s.allow_other,
    passthrough: s.passthrough,
    metrics: s.metrics,
    logLevel: s.log_level,
    logFile: s.log_file,
    requestTimeoutMs: s.request_timeout,
    maxAttempts: s.max_attempts,
    s3MaxConnections: s.s3_max_connections,
    drainTimeoutMs: s.drain_timeout,
    cluster: clusterNode(merged, mountpoint),
  };
}

/** The cluster keys go together: meta needs the token, and the others mean nothing without meta. */
function clusterNode(merged: MergedSettings<typeof MOUNT_SETTINGS>, mountpoint: string): ClusterNodeConfig | undefined {
  const s = merged.values;
  if (s.meta === undefined) {
    const stray = CLUSTER_KEYS.find((key) => merged.isSet(key));
    if (stray) throw new CachalotError('InvalidConfig', `${merged.name(stray)} needs meta (--meta HOST:PORT, or meta in the config file)`);
    return undefined;
  }
  if (s.token_file === undefined) throw new CachalotError('InvalidConfig', `${merged.name('meta')} needs the cluster secret (--token-file FILE, or token_file in the config file)`);
  return {
    meta: s.meta,
    nodeId: s.node_id ?? defaultNodeId(mountpoint),
    peerListen: s.peer_listen,
    tokenFile: s.token_file,
    tls: { cert: s.tls_cert, key: s.tls_key, ca: s.tls_ca },
    lz4: s.peer_lz4,
  };
}

/** Unique per host and mountpoint, and the same across restarts of the mount (so a restart rejoins as itself). */
function defaultNodeId(mountpoint: string): string {
  const host = hostname().replace(/[^\w.:-]/g, '-') || 'node';
  return `${host}-${createHash('sha256').update(mountpoint).digest('hex').slice(0, 8)}`;
}
