import type { Server as HttpServer } from 'node:http';
import { Server, status, type StatusObject, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { requireBearerToken } from '../rpc/grpc-auth';
import { toGrpcStatus } from '../rpc/grpc-errors';
import { bindServer } from '../rpc/grpc-service';
import { describeTls } from '../rpc/grpc-tls';
import type { ClusterTls } from '../rpc/types';
import type { S3OriginConfig } from '../config/s3-origin';
import { isCachalotError, oneLine } from '../errors';
import { isBucketName } from '../object/s3-uri';
import type { Logger } from '../obs/logger';
import { serveMetrics } from '../obs/metrics-server';
import { MetaMetrics } from './meta-metrics';
import { openEpochStore } from './epoch-store';
import { ListingCache, type ListingCacheOptions } from './listing-cache';
import { ListingWatchers } from './listing-watchers';
import { metaService } from './meta-proto';
import { Membership } from './membership';
import { MAX_CHANGED_FOLDERS, type HeartbeatRequest, type ListingChangedRequest, type ListingChanges, type ListingRequest, type RegisterRequest } from './types';

export interface MetaServerOptions {
  /** HOST:PORT; port 0 takes any free port (see MetaServer.address). */
  listen: string;
  dataDir: string;
  token: string;
  /** TLS with meta's certificate, and with a CA mutual TLS; plain TCP without. */
  tls?: ClusterTls;
  leaseMs: number;
  /** The shared listing cache: where it lists, its TTL and its bound. */
  listing: Omit<ListingCacheOptions, 'log' | 'now' | 'onListed'>;
  /** Where the listing cache's stores reach S3, told to clients that ask (the Origin call). */
  origin: S3OriginConfig;
  /** HOST:PORT to serve Prometheus metrics at /metrics on; none without. */
  metrics?: string;
  log: Logger;
}

export interface MetaServer {
  /** HOST:PORT actually bound. */
  readonly address: string;
  /** The current epoch. */
  readonly epoch: number;
  /** Refuses new calls, lets running ones finish (briefly), closes the data dir. */
  stop(): Promise<void>;
}

/** Lapsed leases are dropped by a timer too, so that the epoch moves on although nobody asks. */
const SWEEPS_PER_LEASE = 4;
/** How often listings nobody may use any more are let go. */
const LISTING_SWEEP_MS = 5000;
const GRACEFUL_STOP_MS = 2000;
/**
 * Meta pings a connection that has been quiet this long, and drops it
 * without an answer within KEEPALIVE_TIMEOUT_MS: the listing watch of a node
 * whose machine vanished (no reset ever comes) ends instead of holding its
 * changes until the bound.
 */
const KEEPALIVE_MS = 30_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;

export async function startMetaServer(options: MetaServerOptions): Promise<MetaServer> {
  const { log } = options;
  const store = openEpochStore(options.dataDir);
  const membership = new Membership({
    leaseMs: options.leaseMs,
    store,
    onChange: (change, nodeId, epoch) => log.info({ node: nodeId, epoch }, `member ${change}`),
  });
  const server = new Server({
    interceptors: [requireBearerToken(options.token, (peer, reason) => log.warn({ peer, reason }, 'refused a call'))],
    'grpc.keepalive_time_ms': KEEPALIVE_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
  });
  const metrics = new MetaMetrics();
  const listings = new ListingCache({ ...options.listing, log, onListed: () => metrics.s3Listings.inc() });
  const watchers = new ListingWatchers(() => metrics.listingResyncs.inc());
  metrics.track(() => membership.view(), () => listings.heldEntries, () => watchers.count);
  server.addService(metaService().service, handlers(membership, listings, watchers, options.origin, log, metrics));
  let address: string;
  let metricsServer: HttpServer | undefined;
  try {
    address = await bindServer(server, options.listen, 'meta', options.tls);
    metricsServer = options.metrics ? await serveMetrics(metrics.registry, options.metrics) : undefined;
  } catch (err) {
    server.forceShutdown();
    await store.close();
    throw err;
  }
  const sweeper = setInterval(() => guarded(log, () => membership.expire()), options.leaseMs / SWEEPS_PER_LEASE);
  const listingSweeper = setInterval(() => listings.sweep(), LISTING_SWEEP_MS);
  log.info({ address, epoch: membership.epoch, leaseMs: options.leaseMs, transport: describeTls(options.tls), listingTtlMs: options.listing.ttlMs, listingEntries: options.listing.maxEntries }, 'meta serving');
  return {
    address,
    get epoch() {
      return membership.epoch;
    },
    stop: async () => {
      clearInterval(sweeper);
      clearInterval(listingSweeper);
      metricsServer?.close();
      listings.close();
      watchers.close();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), GRACEFUL_STOP_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await store.close();
    },
  };
}

function handlers(membership: Membership, listings: ListingCache, watchers: ListingWatchers, origin: S3OriginConfig, log: Logger, metrics: MetaMetrics): UntypedServiceImplementation {
  const answered = (method: string, code?: status) => metrics.requests.inc({ method, outcome: code === undefined ? 'ok' : status[code] });
  const unary = answering(log, answered);
  return {
    Register: unary<RegisterRequest>('Register', (r) => membership.register(withNodeId(r))),
    Heartbeat: unary<HeartbeatRequest>('Heartbeat', (r) => membership.heartbeat(withNodeId(r))),
    Leave: unary<{ nodeId: string }>('Leave', (r) => ({ epoch: membership.leave(withNodeId(r).nodeId) })),
    Members: unary<object>('Members', () => membership.view()),
    List: unary<ListingRequest>('List', (r) => listings.page(folderListing(r))),
    Origin: unary<object>('Origin', () => ({ endpoint: origin.endpoint ?? '', region: origin.region })),
    // Dropped here first, then told: a node told of a change lists it anew.
    ListingChanged: unary<ListingChangedRequest>('ListingChanged', (r) => {
      const { nodeId, bucket, folders } = changedFolders(r);
      listings.forget(bucket, folders);
      watchers.publish(nodeId, bucket, folders);
      return {};
    }),
    WatchListings: (call: ServerWritableStream<{ nodeId: string }, ListingChanges>) => {
      if (call.request.nodeId === '') {
        answered('WatchListings', status.INVALID_ARGUMENT);
        call.emit('error', { code: status.INVALID_ARGUMENT, details: 'node_id is empty' });
        return;
      }
      answered('WatchListings');
      const stop = watchers.watch(call.request.nodeId, call);
      call.once('cancelled', stop);
      call.once('close', stop);
    },
  };
}

class InvalidRequest extends Error {}

function changedFolders(request: ListingChangedRequest): ListingChangedRequest {
  withNodeId(request);
  if (!isBucketName(request.bucket)) throw new InvalidRequest(`invalid bucket name "${request.bucket}"`);
  if (request.folders.length > MAX_CHANGED_FOLDERS) throw new InvalidRequest(`more than ${MAX_CHANGED_FOLDERS} folders in one call`);
  const odd = request.folders.find((folder) => folder !== '' && !folder.endsWith('/'));
  if (odd !== undefined) throw new InvalidRequest(`"${odd}" is not a folder prefix ("" or ending with "/")`);
  return request;
}

function withNodeId<T extends { nodeId: string }>(request: T): T {
  if (request.nodeId === '') throw new InvalidRequest('node_id is empty');
  return request;
}

function folderListing(request: ListingRequest): ListingRequest {
  if (!isBucketName(request.bucket)) throw new InvalidRequest(`invalid bucket name "${request.bucket}"`);
  if (request.delimiter === '') throw new InvalidRequest('delimiter is empty: meta caches folder listings only');
  return request;
}

/**
 * A handler whose failure is one line to the caller and, unless it is a
 * typed error the caller gets with its code (an S3 error, already logged
 * where it happened), in the log (INTERNAL: an epoch that could not be saved).
 */
function answering(log: Logger, onAnswered: (method: string, code?: status) => void) {
  return <Req>(method: string, answer: (request: Req) => object | Promise<object>) =>
    (call: ServerUnaryCall<Req, object>, callback: sendUnaryData<object>) => {
      const fail = (error: Partial<StatusObject>) => {
        onAnswered(method, error.code ?? status.INTERNAL);
        callback(error);
      };
      new Promise<object>((resolve) => resolve(answer(call.request))).then(
        (reply) => {
          onAnswered(method);
          callback(null, reply);
        },
        (err: unknown) => {
          if (err instanceof InvalidRequest) return fail({ code: status.INVALID_ARGUMENT, details: err.message });
          if (isCachalotError(err)) return fail(toGrpcStatus(err));
          log.error({ err: oneLine(err) }, 'request failed');
          fail({ code: status.INTERNAL, details: oneLine(err) });
        },
      );
    };
}

function guarded(log: Logger, work: () => void): void {
  try {
    work();
  } catch (err) {
    log.error({ err: oneLine(err) }, 'lease sweep failed; retrying at the next one');
  }
}
