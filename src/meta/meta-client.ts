import { Client, closeClient, status, type ServiceError } from '@grpc/grpc-js';
import { bearerTokenInterceptor } from '../rpc/grpc-auth';
import { fromGrpcError } from '../rpc/grpc-errors';
import { channelCredentials } from '../rpc/grpc-tls';
import type { ClusterTls } from '../rpc/types';
import type { S3OriginConfig } from '../config/s3-origin';
import { metaService } from './meta-proto';
import type { HeartbeatReply, HeartbeatRequest, Lease, ListingPage, ListingRequest, MembershipView, RegisterRequest } from './types';

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
  close(): void;
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

type Unary = (request: unknown, options: { deadline: number }, callback: (err: ServiceError | null, reply: unknown) => void) => void;

export function createMetaClient(address: string, token: string, options: MetaClientOptions = {}): MetaClient {
  const Meta = metaService();
  const backoff = options.maxReconnectBackoffMs ?? 1000;
  // The token rides on every call, over TLS or not.
  const client = new Meta(address, channelCredentials(options.tls), {
    interceptors: [bearerTokenInterceptor(token)],
    'grpc.initial_reconnect_backoff_ms': Math.min(backoff, 1000),
    'grpc.max_reconnect_backoff_ms': backoff,
  }) as Client & Record<string, Unary>;
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
          if ((err.cause as Partial<ServiceError> | undefined)?.code === status.UNIMPLEMENTED) return undefined;
          throw err;
        },
      ),
    close: () => closeClient(client),
  };
}
