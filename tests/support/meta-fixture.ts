// In-process metadata services on 127.0.0.1 for unit tests: each with its own
// data dir under one temporary folder, its listings from a given store (an
// empty MemoryStore unless said), all stopped and removed by stopAll().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { S3OriginConfig } from '../../src/config/s3-origin';
import { MetaServer, startMetaServer } from '../../src/meta/meta-server';
import { MemoryStore } from '../../src/object/memory-store';
import type { ObjectStore } from '../../src/object/types';
import { silentLogger } from '../../src/obs/logger';

export const META_TOKEN = 'unit-test-token';

export interface MetaStart {
  /** HOST:PORT; any free port by default. */
  listen?: string;
  /** A new one by default; the same one again for a restart. */
  dataDir?: string;
  leaseMs?: number;
  /** Where listings come from, whatever the bucket. */
  store?: ObjectStore;
  listingTtlMs?: number;
  listingEntries?: number;
  /** What the Origin call answers; us-east-1 at AWS by default. */
  origin?: S3OriginConfig;
}

export function metaFixture() {
  const work = mkdtempSync(join(tmpdir(), 'cachalot-meta-unit-'));
  const servers: MetaServer[] = [];
  let dirs = 0;
  return {
    work,
    async start(options: MetaStart = {}): Promise<MetaServer> {
      const store = options.store ?? new MemoryStore();
      const server = await startMetaServer({
        listen: options.listen ?? '127.0.0.1:0',
        dataDir: options.dataDir ?? join(work, `data-${++dirs}`),
        token: META_TOKEN,
        leaseMs: options.leaseMs ?? 10_000,
        origin: options.origin ?? { region: 'us-east-1' },
        listing: { stores: () => store, ttlMs: options.listingTtlMs ?? 60_000, maxEntries: options.listingEntries ?? 100_000 },
        log: silentLogger,
      });
      servers.push(server);
      return server;
    },
    async stopAll(): Promise<void> {
      for (const server of servers) await server.stop().catch(() => undefined);
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** A logger whose lines the test can read. */
export function capturingLogger() {
  const lines: Array<{ msg: string; [key: string]: unknown }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}
