import type { Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TierStats } from '../block/types';
import { serveMetrics } from './metrics-server';

/** Every series the node exports, prefixed cachalot_. One instance per process. */
export class Metrics {
  readonly registry = new Registry();
  readonly s3Requests = new Counter({ name: 'cachalot_s3_requests_total', help: 'S3 requests by operation', labelNames: ['op'], registers: [this.registry] });
  readonly s3Errors = new Counter({ name: 'cachalot_s3_errors_total', help: 'S3 request errors by operation and code', labelNames: ['op', 'code'], registers: [this.registry] });
  readonly s3Retries = new Counter({ name: 'cachalot_s3_retries_total', help: 'S3 requests retried', labelNames: ['op'], registers: [this.registry] });
  readonly s3GetBytes = new Counter({ name: 'cachalot_s3_get_bytes_total', help: 'Bytes fetched from S3 by ranged GETs', registers: [this.registry] });
  readonly s3PutBytes = new Counter({ name: 'cachalot_s3_put_bytes_total', help: 'Bytes S3 took in PUTs and multipart parts', registers: [this.registry] });
  readonly readBytes = new Counter({ name: 'cachalot_read_bytes_total', help: 'Bytes returned to readers through FUSE', registers: [this.registry] });
  readonly fuseOps = new Histogram({
    name: 'cachalot_fuse_op_seconds',
    help: 'FUSE operation latency',
    labelNames: ['op'],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
    registers: [this.registry],
  });
  readonly readaheadBytes = new Gauge({ name: 'cachalot_readahead_bytes', help: 'Bytes of blocks held by open files (prefetched or being read), each block counted once', registers: [this.registry] });
  readonly openFiles = new Gauge({ name: 'cachalot_open_files', help: 'Open file handles', registers: [this.registry] });
  readonly writtenBytes = new Counter({ name: 'cachalot_written_bytes_total', help: 'Bytes written to files through FUSE', registers: [this.registry] });
  readonly uploads = new Counter({
    name: 'cachalot_upload_files_total',
    help: 'Files written through the mount, by outcome: completed (stored in S3), failed (S3 would not take it: EIO), aborted (dropped: the writer was killed, or wrote out of order)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly uploadParts = new Counter({ name: 'cachalot_upload_parts_total', help: 'Parts (and single PUTs) sent for files written through the mount', registers: [this.registry] });
  readonly uploadBytes = new Counter({ name: 'cachalot_upload_bytes_total', help: 'Bytes of those parts and PUTs', registers: [this.registry] });
  readonly passthroughOpens = new Counter({
    name: 'cachalot_passthrough_opens_total',
    help: 'Opens answered with FUSE passthrough: the kernel reads the file cached on disk itself, without the daemon',
    registers: [this.registry],
  });
  readonly peerBlocks = new Counter({
    name: 'cachalot_peer_blocks_total',
    help: 'Blocks this node loaded on a local miss, by where they came from: peer (the owner), origin (S3), peer-failed (the owner failed; S3 served it)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly peerServed = new Counter({
    name: 'cachalot_peer_served_blocks_total',
    help: 'Blocks this node served to other nodes, by outcome (ok, error)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly peerReceivedBytes = new Counter({
    name: 'cachalot_peer_received_bytes_total',
    help: 'Bytes of blocks received from peers as they came on the wire, by encoding (raw, lz4)',
    labelNames: ['encoding'],
    registers: [this.registry],
  });
  readonly blockOps = new Counter({
    name: 'cachalot_block_ops_total',
    help: 'Blocks of warm-up and cache operations done on this node (docs/WARMUP.md), by op (warm, check, unpin, evict) and outcome (loaded, cached, absent, done, failed)',
    labelNames: ['op', 'outcome'],
    registers: [this.registry],
  });
  readonly blockOpsBytes = new Counter({
    name: 'cachalot_block_ops_bytes_total',
    help: 'Bytes of those blocks, by op and outcome: warm-up progress is op="warm", outcome="loaded" (fetched now) and "cached" (there already)',
    labelNames: ['op', 'outcome'],
    registers: [this.registry],
  });
  readonly listings = new Counter({
    name: 'cachalot_listings_total',
    help: "Folder listings of a cluster node, by where they came from: meta (the shared listing cache), s3 (meta passed over after it failed), meta-failed (meta failed; S3 served it)",
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly skippedKeys = new Counter({ name: 'cachalot_skipped_keys_total', help: 'Object keys not shown because they are not valid file names', registers: [this.registry] });

  constructor() {
    // prom-client's own names carry process_ and nodejs_: cachalot_process_cpu_seconds_total, cachalot_nodejs_eventloop_lag_seconds.
    collectDefaultMetrics({ register: this.registry, prefix: 'cachalot_' });
  }

  /** Exports the cache tiers' own counts, read when /metrics is scraped. */
  trackCache(stats: () => TierStats[]): void {
    const series: Array<[string, string, keyof TierStats, 'gauge' | 'counter']> = [
      ['cachalot_cache_used_bytes', 'Bytes held by the cache tier', 'usedBytes', 'gauge'],
      ['cachalot_cache_capacity_bytes', 'Capacity of the cache tier', 'capacityBytes', 'gauge'],
      ['cachalot_cache_blocks', 'Blocks held by the cache tier', 'blocks', 'gauge'],
      ['cachalot_cache_hits_total', 'Block lookups the tier answered', 'hits', 'counter'],
      ['cachalot_cache_misses_total', 'Block lookups the tier did not hold', 'misses', 'counter'],
      ['cachalot_cache_evictions_total', 'Blocks the tier dropped to make room', 'evictions', 'counter'],
      ['cachalot_cache_errors_total', 'Failed or corrupt reads and failed writes of the tier', 'errors', 'counter'],
    ];
    for (const [name, help, field, type] of series) {
      // Counters are set to the tier's own running total at each scrape.
      const collect = function (this: Gauge<string> | Counter<string>) {
        this.reset();
        for (const tier of stats()) this.inc({ tier: tier.tier }, Number(tier[field]));
      };
      const options = { name, help, labelNames: ['tier'], registers: [this.registry], collect };
      if (type === 'gauge') new Gauge(options);
      else new Counter(options);
    }
  }

  /** Exports the block memory budget's account (the buffer pool), read when /metrics is scraped. */
  trackBlockMemory(pool: { usedBytes: number; peakBytes: number; capacityBytes: number }): void {
    const series: Array<[string, string, () => number]> = [
      ['cachalot_block_memory_bytes', 'Block memory now: pooled buffers, in use or idle, and lz4 blocks and copies', () => pool.usedBytes],
      ['cachalot_block_memory_peak_bytes', 'The most block memory held at once', () => pool.peakBytes],
      ['cachalot_block_memory_budget_bytes', 'The block memory budget (ram_cache)', () => pool.capacityBytes],
    ];
    for (const [name, help, value] of series) {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect(this: Gauge<string>) {
          this.set(value());
        },
      });
    }
  }

  /** Serves /metrics in Prometheus text format on HOST:PORT. */
  serve(hostPort: string): Promise<Server> {
    return serveMetrics(this.registry, hostPort);
  }
}
