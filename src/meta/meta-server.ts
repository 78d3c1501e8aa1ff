import { Server, status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { requireBearerToken } from '../cluster/grpc-auth';
import { bindServer } from '../cluster/grpc-service';
import { describeTls, type ClusterTls } from '../cluster/grpc-tls';
import { oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import { openEpochStore } from './epoch-store';
import { metaService } from './meta-proto';
import { Membership } from './membership';
import type { HeartbeatRequest, RegisterRequest } from './types';

export interface MetaServerOptions {
  /** HOST:PORT; port 0 takes any free port (see MetaServer.address). */
  listen: string;
  dataDir: string;
  token: string;
  /** TLS with meta's certificate, and with a CA mutual TLS; plain TCP without. */
  tls?: ClusterTls;
  leaseMs: number;
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
const GRACEFUL_STOP_MS = 2000;

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
  });
  server.addService(metaService().service, handlers(membership, log));
  let address: string;
  try {
    address = await bindServer(server, options.listen, 'meta', options.tls);
  } catch (err) {
    await store.close();
    throw err;
  }
  const sweeper = setInterval(() => guarded(log, () => membership.expire()), options.leaseMs / SWEEPS_PER_LEASE);
  log.info({ address, epoch: membership.epoch, leaseMs: options.leaseMs, transport: describeTls(options.tls) }, 'meta serving');
  return {
    address,
    get epoch() {
      return membership.epoch;
    },
    stop: async () => {
      clearInterval(sweeper);
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

function handlers(membership: Membership, log: Logger): UntypedServiceImplementation {
  return {
    Register: unary<RegisterRequest>(log, (r) => membership.register(withNodeId(r))),
    Heartbeat: unary<HeartbeatRequest>(log, (r) => membership.heartbeat(withNodeId(r))),
    Leave: unary<{ nodeId: string }>(log, (r) => ({ epoch: membership.leave(withNodeId(r).nodeId) })),
    Members: unary<object>(log, () => membership.view()),
  };
}

class InvalidRequest extends Error {}

function withNodeId<T extends { nodeId: string }>(request: T): T {
  if (request.nodeId === '') throw new InvalidRequest('node_id is empty');
  return request;
}

/** A handler whose failure is one line to the caller (INTERNAL: an epoch that could not be saved) and in the log. */
function unary<Req>(log: Logger, answer: (request: Req) => object) {
  return (call: ServerUnaryCall<Req, object>, callback: sendUnaryData<object>) => {
    try {
      callback(null, answer(call.request));
    } catch (err) {
      if (err instanceof InvalidRequest) return callback({ code: status.INVALID_ARGUMENT, details: err.message });
      log.error({ err: oneLine(err) }, 'request failed');
      callback({ code: status.INTERNAL, details: oneLine(err) });
    }
  };
}

function guarded(log: Logger, work: () => void): void {
  try {
    work();
  } catch (err) {
    log.error({ err: oneLine(err) }, 'lease sweep failed; retrying at the next one');
  }
}
