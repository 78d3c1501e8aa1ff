import { isCachalotError, oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import type { MetaClient } from './meta-client';
import type { Member, MembershipView, NodeReport, RegisterRequest } from './types';

/** What a node knows of the cluster, for `cachalot stats` (docs/STATS.md). */
export interface MembershipStatus {
  nodeId: string;
  meta: string;
  /** False while meta cannot be reached or refuses this node; the last view is kept meanwhile. */
  metaReachable: boolean;
  /** The epoch of the last view (0: none yet). */
  epoch: number;
  members: Member[];
}

export interface ClusterMemberOptions {
  client: MetaClient;
  node: RegisterRequest;
  /** This node's figures and suspects, sent with every heartbeat. */
  report: () => Promise<NodeReport>;
  log: Logger;
  /** How often to try while no lease is known yet (meta unreachable at start). */
  retryMs?: number;
}

const HEARTBEATS_PER_LEASE = 3;
/** Every call to meta is bounded by the heartbeat interval, and by this. */
const MAX_CALL_MS = 5000;
const MIN_CALL_MS = 500;
const LEAVE_MS = 1000;

/**
 * This node's membership: registers, renews its lease with a heartbeat three
 * times per lease, registers again when meta forgot it (a restart of meta, a
 * lapsed lease), and keeps the last membership view while meta is down,
 * saying so once in the log. Never throws after join(): a mount serves
 * whatever meta does.
 */
export class ClusterMember {
  private readonly client: MetaClient;
  private readonly log: Logger;
  private intervalMs: number;
  private registered = false;
  private epoch = 0;
  private view: MembershipView = { epoch: 0, members: [] };
  /** Why meta cannot be used now, as last logged; undefined while it answers. */
  private problem: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private leaving: Promise<void> | undefined;

  constructor(private readonly options: ClusterMemberOptions) {
    this.client = options.client;
    this.log = options.log.child({ meta: options.client.address, node: options.node.nodeId });
    this.intervalMs = options.retryMs ?? 1000;
  }

  /**
   * Registers and starts heartbeats. Rejects when meta refuses the node (a
   * wrong token: the mount must not start); when meta is unreachable it
   * resolves and keeps trying in the background.
   */
  async join(): Promise<void> {
    try {
      await this.register();
      this.problem = undefined;
    } catch (err) {
      if (isCachalotError(err, 'Unauthenticated')) {
        this.client.close();
        throw err;
      }
      this.report(err);
    }
    this.schedule(this.intervalMs);
  }

  status(): MembershipStatus {
    return { nodeId: this.options.node.nodeId, meta: this.client.address, metaReachable: this.problem === undefined, epoch: this.view.epoch, members: this.view.members };
  }

  /** Stops heartbeats and tells meta the node leaves (best effort, bounded: else its lease lapses). Idempotent. */
  leave(): Promise<void> {
    return (this.leaving ??= this.stopAndLeave());
  }

  private async stopAndLeave(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (this.registered && this.problem === undefined) {
      await this.client.leave(this.options.node.nodeId, LEAVE_MS).then(
        (epoch) => this.log.info({ epoch }, 'left the cluster'),
        (err) => this.log.warn({ err: oneLine(err) }, 'could not tell meta this node leaves; its lease will lapse'),
      );
    }
    this.client.close();
  }

  private get callTimeoutMs(): number {
    return Math.max(MIN_CALL_MS, Math.min(MAX_CALL_MS, this.intervalMs));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const started = Date.now();
      this.running = this.beat().finally(() => {
        this.running = undefined;
        this.schedule(Math.max(0, this.intervalMs - (Date.now() - started)));
      });
    }, delayMs);
    // The mount, not this loop, keeps the daemon alive.
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      if (!this.registered) {
        await this.register();
      } else {
        const reply = await this.client.heartbeat({ nodeId: this.options.node.nodeId, ...(await this.options.report()) }, this.callTimeoutMs);
        if (reply.unknown) {
          this.log.info('meta does not know this node (meta restarted, or the lease lapsed); registering again');
          await this.register();
        } else {
          this.epoch = reply.epoch;
        }
      }
      if (this.view.epoch !== this.epoch) this.view = await this.client.members(this.callTimeoutMs);
      if (this.problem !== undefined) this.log.info({ epoch: this.epoch }, 'meta answers again');
      this.problem = undefined;
    } catch (err) {
      this.report(err);
    }
  }

  private async register(): Promise<void> {
    this.registered = false;
    const lease = await this.client.register(this.options.node, this.callTimeoutMs);
    this.registered = true;
    this.epoch = lease.epoch;
    this.intervalMs = lease.leaseTtlMs / HEARTBEATS_PER_LEASE;
    this.log.info({ epoch: lease.epoch, leaseMs: lease.leaseTtlMs, address: this.options.node.peerAddress }, 'registered with meta');
    this.view = await this.client.members(this.callTimeoutMs);
  }

  /** Logs a problem once, not at every heartbeat it lasts. */
  private report(err: unknown): void {
    const problem = isCachalotError(err) ? err.code : 'Internal';
    if (problem !== this.problem) {
      this.log.warn({ err: oneLine(err), epoch: this.view.epoch, members: this.view.members.length }, 'meta cannot be used; serving with the last membership view until it can');
    }
    this.problem = problem;
  }
}
