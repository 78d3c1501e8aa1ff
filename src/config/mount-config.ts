import { z } from 'zod';
import type { TlsFiles } from '../rpc/types';
import { READAHEAD_DEFAULT_MAX, READAHEAD_MAX_DEFAULT, READAHEAD_WITHOUT_RAM, type MemoryPlan } from './memory-plan';
import { schemaOf, type Settings } from './setting';
import { duration, flag, hostPort, integer, mode, percent, size, text } from './setting-kinds';
import { LOG_LEVEL_SETTING, METRICS_SETTING, S3_ORIGIN_SETTINGS, TLS_SETTINGS, TOKEN_FILE_SETTING } from './shared-settings';
import { formatSize } from './units';

/** The validated settings of one mount; every layer reads from this, never from flags or env. */
export interface MountConfig {
  bucket: string;
  prefix: string;
  mountpoint: string;
  endpoint?: string;
  region: string;
  cacheDir: string;
  /** The memory budget of block data, as set (0: no RAM tier); `memory` says how it is shared. */
  ramCache: number;
  diskCache: number;
  /** Share of the cache disk always left free (0.05 = 5%). */
  diskMinFree: number;
  blockSize: number;
  /** ram_cache shared out: readahead (memory_limit, readahead_max), disk writes, the RAM tier, the pool. */
  memory: MemoryPlan;
  metadataTtlMs: number;
  negativeTtlMs: number;
  uid: number;
  gid: number;
  fileMode: number;
  dirMode: number;
  readOnly: boolean;
  /** Files written may replace existing objects (open with O_TRUNC, rename onto one). */
  allowOverwrite: boolean;
  allowOther: boolean;
  /** Hand files cached whole on disk to the kernel to read itself (FUSE passthrough), where the kernel allows. */
  passthrough: boolean;
  metrics?: string;
  logLevel: string;
  logFile?: string;
  requestTimeoutMs: number;
  maxAttempts: number;
  s3MaxConnections: number;
  /** SIGTERM: how long reads in flight may take to finish before the mount goes anyway. */
  drainTimeoutMs: number;
  /** Set with `meta`: this mount is a node of a cluster (docs/CLUSTER.md). */
  cluster?: ClusterNodeConfig;
}

export interface ClusterNodeConfig {
  meta: string;
  nodeId: string;
  /** Where the peer service listens; the address bound is what the other members are told. */
  peerListen?: string;
  tokenFile: string;
  /** TLS to meta and between peers; none given: plain TCP (docs/CLUSTER.md#tls). */
  tls: TlsFiles;
  /** lz4 between peers, block by block where it pays (docs/CLUSTER.md). */
  lz4: boolean;
}

const NODE_ID_PATTERN = /^[A-Za-z0-9][\w.:-]{0,127}$/;
const MiB = 2 ** 20;

/**
 * Every mount setting, declared once (src/config/setting.ts): a key at the
 * top of the config file or in [mounts.NAME], and the flag of `cachalot
 * mount` where it has one. Order is --help's.
 */
export const MOUNT_SETTINGS = {
  ...S3_ORIGIN_SETTINGS,
  cache_dir: { schema: text(), flag: '<dir>', help: 'cache directory: the disk tier, its index and the background daemon\'s log', default: '/var/cache/cachalot', path: true },
  ram_cache: {
    schema: size(),
    flag: '<size>',
    help: 'memory budget of block data: readahead, disk writes in flight, and the RAM tier with the rest; 0: no RAM tier',
    default: '1GiB',
  },
  disk_cache: { schema: size(), flag: '<size>', help: 'disk tier size under the cache dir, kept across restarts; 0 for none', default: '64GiB' },
  disk_min_free: { schema: percent(), flag: '<percent>', help: 'share of the cache filesystem always left free', default: '5%' },
  block_size: {
    schema: size().refine((n) => n >= 64 * 1024 && n <= 1024 ** 3 && (n & (n - 1)) === 0, 'must be a power of two from 64KiB to 1GiB'),
    flag: '<size>',
    help: 'ranged-GET block, a power of two from 64KiB to 1GiB',
    default: '8MiB',
  },
  memory_limit: {
    schema: size().refine((n) => n >= 16 * MiB, 'must be at least 16MiB'),
    flag: '<size>',
    help: "readahead's share of --ram-cache, for all open files together",
    defaultText: `a quarter of it, at most ${formatSize(READAHEAD_DEFAULT_MAX)}; ${formatSize(READAHEAD_WITHOUT_RAM)} with --ram-cache 0`,
  },
  readahead_max: {
    schema: size(),
    flag: '<size>',
    help: 'largest readahead window of one file',
    defaultText: `${formatSize(READAHEAD_MAX_DEFAULT)}, at most half of --memory-limit`,
  },
  metadata_ttl: { schema: duration(), flag: '<duration>', help: 'how long listings and attributes are trusted; "never" for immutable datasets', default: '60s' },
  negative_ttl: { schema: duration(), flag: '<duration>', help: 'how long a missing name is trusted', default: '5s' },
  uid: { schema: integer(0, 2 ** 32 - 2), flag: '<uid>', help: 'owner of every file', defaultText: 'the mounting user' },
  gid: { schema: integer(0, 2 ** 32 - 2), flag: '<gid>', help: 'group of every file', defaultText: "the mounting user's group" },
  file_mode: { schema: mode(), flag: '<mode>', help: 'permission bits of files, octal', default: '0644' },
  dir_mode: { schema: mode(), flag: '<mode>', help: 'permission bits of directories, octal', default: '0755' },
  allow_other: { schema: flag(), flag: 'switch', help: 'let other users use the mount (the daemon runs as root, training as another user)', default: false },
  read_only: { schema: flag(), flag: 'switch', help: 'mount read-only: every change answers EROFS', default: false },
  allow_overwrite: {
    schema: flag(),
    flag: 'switch',
    help: 'let files written through the mount replace existing objects (open with O_TRUNC, rename onto one); without it, EPERM',
    default: false,
  },
  passthrough: {
    schema: flag(),
    flag: 'off',
    help: 'serve every read through the daemon, never let the kernel read files cached on disk itself (by default FUSE passthrough where the kernel allows, docs/CACHE.md)',
    default: true,
  },
  metrics: METRICS_SETTING,
  log_level: LOG_LEVEL_SETTING,
  log_file: { schema: z.string(), flag: '<file>', help: 'log file', defaultText: 'stdout in the foreground, CACHE_DIR/cachalot.log in the background', path: true },
  request_timeout: { schema: duration(), help: "one S3 request's bound", default: '30s' },
  max_attempts: { schema: integer(1, 20), help: 'tries of one S3 request (capped exponential backoff, full jitter)', default: 6 },
  s3_max_connections: { schema: integer(1, 1024), help: 'S3 connections of the mount', default: 64 },
  drain_timeout: {
    schema: duration().refine((ms) => ms <= 600_000, 'must be at most 10m'),
    help: 'at SIGTERM, how long reads in flight may take before the mount goes anyway',
    default: '20s',
  },
  meta: { schema: hostPort(), flag: '<host:port>', help: 'join the cluster of this metadata service (docs/CLUSTER.md)' },
  token_file: { ...TOKEN_FILE_SETTING, help: `${TOKEN_FILE_SETTING.help}; required with --meta` },
  node_id: {
    schema: z.string().regex(NODE_ID_PATTERN, 'must be letters, digits, ".", "_", ":" or "-", at most 128'),
    flag: '<id>',
    help: "this node's id in the cluster",
    defaultText: 'hostname and a hash of the mountpoint',
  },
  peer_listen: { schema: hostPort(), flag: '<host:port>', help: 'where this node serves its cached blocks to the cluster (peer service; port 0: any free port)' },
  ...TLS_SETTINGS,
  peer_lz4: {
    schema: flag(),
    flag: 'off',
    help: 'send and take blocks between peers raw, never lz4-compressed (by default lz4 for the blocks it shrinks by a tenth)',
    default: true,
  },
} as const satisfies Settings;

/** The keys that mean something only in a cluster, with meta. */
export const CLUSTER_KEYS = ['node_id', 'peer_listen', 'token_file', 'tls_cert', 'tls_key', 'tls_ca', 'peer_lz4'] as const;

/** The config file's mount keys (top level and [mounts.NAME]); unknown keys are errors. */
export const mountSettingsSchema = schemaOf(MOUNT_SETTINGS);
