import { Client, closeClient, status, type ClientReadableStream, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { bearerTokenInterceptor } from '../rpc/grpc-auth';
import { fromGrpcError } from '../rpc/grpc-errors';
import { channelCredentials } from '../rpc/grpc-tls';
import type { ClusterTls } from '../rpc/types';
import type { S3OriginConfig } from '../config/s3-origin';
import { metaService } from './meta-proto';
import type { HeartbeatReply, HeartbeatRequest, Lease, ListingChangedRequest, ListingChanges, ListingPage, ListingRequest, MembershipView, RegisterRequest } from './types';

/** Calls to meta, each with a deadline; failures are one-line CachalotErrors (Unauthenticated, EndpointUnreachable, Timeout, ...). */
export interface MetaClient {
  readonly address: string;
  register(request: RegisterRequest, timeoutMs: number): Promise<Lease>;
  heartbeat(request: HeartbeatRequest, timeoutMs: number): Promise<HeartbeatReply>;
  /** Returns the epoch after the node left. */
  leave(nodeId: string, timeoutMs: number): Promise<number>;
  members(timeoutMs: number): Promise<MembershipView>;
  /** One page of a folder listing from the shared listing cache; a failure meta met keeps its code (NoSuchBucket, ListingExpired, ...). */
  list(request: ListingRequest, timeoutMs: number): Promise<ListingPage>;
  /** Where meta reaches S3; undefined from a meta that predates the call. */
  origin(timeoutMs: number): Promise<S3OriginConfig | undefined>;
  /** Tells meta that this node changed these folders in S3. */
  listingChanged(request: ListingChangedRequest, timeoutMs: number): Promise<void>;
  /**
   * Opens meta's stream of the listing changes other nodes announce: each
   * message to onChanges, then onEnd once, with the failure (undefined: meta
   * ended the stream). No deadline: it stays open until cancelled or lost
   * (keepalive pings find a meta that vanished).
   */
  watchListings(nodeId: string, onChanges: (changes: ListingChanges) => void, onEnd: (err?: Error) => void): { cancel(): void };
  close(): void;
}

/** A call meta does not know: a meta older than the call. */
export function isUnimplemented(err: unknown): boolean {
  return ((err as Error).cause as Partial<ServiceError> | undefined)?.code === status.UNIMPLEMENTED;
}

export interface MetaClientOptions {
  /**
   * Longest wait between reconnection attempts while meta is down. gRPC's
   * default grows to two minutes; a node wants to rejoin within a few
   * heartbeats of meta coming back.
   */
  maxReconnectBackoffMs?: number;
  /** TLS to meta (its certificate checked against the CA; ours shown for mutual TLS); plain TCP without. */
  tls?: ClusterTls;
}

/** While a call is open (a listing watch is, always), the connection is pinged this often; one without an answer within KEEPALIVE_TIMEOUT_MS is dropped. */
const KEEPALIVE_MS = 10_000;
const KEEPALIVE_TIMEOUT_MS = 5_000;

type Unary = (request: unknown, options: { deadline: number }, callback: (err: ServiceError | null, reply: unknown) => void) => void;

export function createMetaClient(address: string, token: string, options: MetaClientOptions = {}): MetaClient {
  const Meta = metaService();
  const backoff = options.maxReconnectBackoffMs ?? 1000;
  // The token rides on every call, over TLS or not.
  const client = new Meta(address, channelCredentials(options.tls), {
    interceptors: [bearerTokenInterceptor(token)],
    'grpc.initial_reconnect_backoff_ms': Math.min(backoff, 1000),
    'grpc.max_reconnect_backoff_ms': backoff,
    'grpc.keepalive_time_ms': KEEPALIVE_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
  }) as Client & Record<string, Unary> & { WatchListings(request: unknown): ClientReadableStream<ListingChanges> };
  const call = <T>(method: string, request: unknown, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      client[method](request, { deadline: Date.now() + timeoutMs }, (err, reply) => (err ? reject(fromGrpcError(err, `meta ${address}`)) : resolve(reply as T)));
    });
  return {
    address,
    register: (request, timeoutMs) => call<Lease>('Register', request, timeoutMs),
    heartbeat: (request, timeoutMs) => call<HeartbeatReply>('Heartbeat', request, timeoutMs),
    leave: async (nodeId, timeoutMs) => (await call<{ epoch: number }>('Leave', { nodeId }, timeoutMs)).epoch,
    members: (timeoutMs) => call<MembershipView>('Members', {}, timeoutMs),
    list: (request, timeoutMs) => call<ListingPage>('List', request, timeoutMs),
    origin: (timeoutMs) =>
      call<{ endpoint: string; region: string }>('Origin', {}, timeoutMs).then(
        (reply) => ({ endpoint: reply.endpoint || undefined, region: reply.region }),
        (err: Error) => {
          if (isUnimplemented(err)) return undefined;
          throw err;
        },
      ),
    listingChanged: async (request, timeoutMs) => {
      await call<object>('ListingChanged', request, timeoutMs);
    },
    watchListings: (nodeId, onChanges, onEnd) => {
      const stream = client.WatchListings({ nodeId });
      stream.on('data', onChanges);
      // Every end comes as a status, after 'error' for a failure (which must have a listener).
      stream.on('error', () => undefined);
      stream.once('status', (ended: StatusObject) => onEnd(ended.code === status.OK ? undefined : fromGrpcError(ended, `meta ${address}`)));
      return { cancel: () => stream.cancel() };
    },
    close: () => closeClient(client),
  };
}
