import { z } from 'zod';
import type { TlsFiles } from '../rpc/types';
import { LOG_LEVELS } from '../obs/logger';
import { HOST_PORT_PATTERN } from './host-port';
import type { MemoryPlan } from './memory-plan';
import { parseDuration, parseSize } from './units';

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

const size = (what: string) => z.union([z.string(), z.number()]).transform((v) => parseSize(v, what));
const duration = (what: string) => z.union([z.string(), z.number()]).transform((v) => parseDuration(v, what));
const mode = z.union([z.string().regex(/^0?[0-7]{3,4}$/, 'an octal mode such as "0644"'), z.number().int()])
  .transform((v) => (typeof v === 'string' ? parseInt(v, 8) : v));
const fraction = (what: string) =>
  z.union([z.string().regex(/^\d+(\.\d+)?%$/, `${what}: a percentage such as "5%"`), z.number().min(0).max(0.9)])
    .transform((v) => (typeof v === 'string' ? parseFloat(v) / 100 : v))
    .refine((v) => v >= 0 && v <= 0.9, 'must be from 0% to 90%');
const hostPort = z.string().regex(HOST_PORT_PATTERN, 'HOST:PORT');

const NODE_ID_PATTERN = /^[A-Za-z0-9][\w.:-]{0,127}$/;

/** The config file's and the flags' keys (snake_case, as in the TOML file). Unknown keys are errors. */
export const mountSettingsSchema = z
  .object({
    endpoint: z.string().url().optional(),
    region: z.string().min(1).optional(),
    cache_dir: z.string().min(1).optional(),
    ram_cache: size('ram_cache').optional(),
    disk_cache: size('disk_cache').optional(),
    disk_min_free: fraction('disk_min_free').optional(),
    block_size: size('block_size')
      .refine((n) => n >= 64 * 1024 && n <= 1024 ** 3 && (n & (n - 1)) === 0, 'must be a power of two from 64KiB to 1GiB')
      .optional(),
    memory_limit: size('memory_limit').refine((n) => n >= 16 * 2 ** 20, 'must be at least 16MiB').optional(),
    readahead_max: size('readahead_max').optional(),
    metadata_ttl: duration('metadata_ttl').optional(),
    negative_ttl: duration('negative_ttl').optional(),
    uid: z.number().int().min(0).optional(),
    gid: z.number().int().min(0).optional(),
    file_mode: mode.optional(),
    dir_mode: mode.optional(),
    read_only: z.boolean().optional(),
    allow_other: z.boolean().optional(),
    passthrough: z.boolean().optional(),
    metrics: hostPort.optional(),
    log_level: z.enum(LOG_LEVELS).optional(),
    log_file: z.string().optional(),
    request_timeout: duration('request_timeout').optional(),
    max_attempts: z.number().int().min(1).max(20).optional(),
    s3_max_connections: z.number().int().min(1).max(1024).optional(),
    drain_timeout: duration('drain_timeout').refine((ms) => ms <= 600_000, 'must be at most 10m').optional(),
    meta: hostPort.optional(),
    node_id: z.string().regex(NODE_ID_PATTERN, 'letters, digits, ".", "_", ":" or "-", at most 128').optional(),
    peer_listen: hostPort.optional(),
    token_file: z.string().min(1).optional(),
    tls_cert: z.string().min(1).optional(),
    tls_key: z.string().min(1).optional(),
    tls_ca: z.string().min(1).optional(),
    peer_lz4: z.boolean().optional(),
  })
  .strict();

export type MountSettings = z.infer<typeof mountSettingsSchema>;

export const MOUNT_DEFAULTS = {
  region: 'us-east-1',
  cacheDir: '/var/cache/cachalot',
  ramCache: 1024 ** 3,
  diskCache: 64 * 1024 ** 3,
  diskMinFree: 0.05,
  blockSize: 8 * 2 ** 20,
  metadataTtlMs: 60_000,
  negativeTtlMs: 5_000,
  fileMode: 0o644,
  dirMode: 0o755,
  logLevel: 'info',
  requestTimeoutMs: 30_000,
  maxAttempts: 6,
  s3MaxConnections: 64,
  drainTimeoutMs: 20_000,
};
