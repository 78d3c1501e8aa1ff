import { compareCodeUnits } from '../code-unit-order';
import { figuresBy, type EpochStore, type HeartbeatReply, type HeartbeatRequest, type Lease, type Member, type MembershipView, type NodeReport, type RegisterRequest } from './types';

export type MembershipChange = 'joined' | 'changed' | 'left' | 'lapsed';

export interface MembershipOptions {
  /** A lease not renewed within this many milliseconds lapses and its node is dropped. */
  leaseMs: number;
  store: EpochStore;
  now?: () => number;
  /** Told of every change of the member set, after the epoch moved on. */
  onChange?: (change: MembershipChange, nodeId: string, epoch: number) => void;
}

/** A member as kept: its state and lease age are worked out when the view is asked for. */
type Entry = Omit<Member, 'state' | 'leaseAgeMs'> & { renewedAt: number };

/**
 * The member set and its epoch: soft state, rebuilt from registrations and
 * heartbeats after a restart. Every change of the set, or of a member's
 * address or capacity (what placement depends on), bumps the epoch, and the
 * new epoch is saved before the change is made, so that no two different sets
 * ever carry the same epoch, restarts included.
 */
export class Membership {
  private readonly members = new Map<string, Entry>();
  private current: number;
  private readonly now: () => number;

  constructor(private readonly options: MembershipOptions) {
    this.now = options.now ?? Date.now;
    this.current = options.store.load();
    // A restart forgets every member: the set changed, so the epoch moves on.
    this.bump();
  }

  get epoch(): number {
    return this.current;
  }

  register(request: RegisterRequest): Lease {
    this.expire();
    const known = this.members.get(request.nodeId);
    const change = !known ? 'joined' : known.address !== request.peerAddress || known.capacityBytes !== request.capacityBytes ? 'changed' : undefined;
    if (change) this.bump();
    this.members.set(request.nodeId, {
      id: request.nodeId,
      address: request.peerAddress,
      capacityBytes: request.capacityBytes,
      ...reportOf(known),
      renewedAt: this.now(),
    });
    if (change) this.options.onChange?.(change, request.nodeId, this.current);
    return { leaseTtlMs: this.options.leaseMs, epoch: this.current };
  }

  heartbeat(request: HeartbeatRequest): HeartbeatReply {
    this.expire();
    const member = this.members.get(request.nodeId);
    if (!member) return { epoch: this.current, unknown: true };
    Object.assign(member, reportOf(request));
    member.renewedAt = this.now();
    return { epoch: this.current, unknown: false };
  }

  leave(nodeId: string): number {
    this.expire();
    if (this.members.has(nodeId)) {
      this.bump();
      this.members.delete(nodeId);
      this.options.onChange?.('left', nodeId, this.current);
    }
    return this.current;
  }

  /** Drops the members whose lease lapsed (one epoch for all of them). Called on every request and by a timer. */
  expire(): void {
    const now = this.now();
    const lapsed = [...this.members.values()].filter((m) => now - m.renewedAt > this.options.leaseMs);
    if (lapsed.length === 0) return;
    this.bump();
    for (const member of lapsed) {
      this.members.delete(member.id);
      this.options.onChange?.('lapsed', member.id, this.current);
    }
  }

  /** The live members, by id. A member is "late" once half its lease passed without a heartbeat (they come every third). */
  view(): MembershipView {
    this.expire();
    const now = this.now();
    const members = [...this.members.values()]
      .sort((a, b) => compareCodeUnits(a.id, b.id))
      .map(({ renewedAt, ...member }): Member => {
        const leaseAgeMs = now - renewedAt;
        return { ...member, leaseAgeMs, state: leaseAgeMs > this.options.leaseMs / 2 ? 'late' : 'alive' };
      });
    return { epoch: this.current, members };
  }

  private bump(): void {
    const next = this.current + 1;
    this.options.store.save(next);
    this.current = next;
  }
}

/** What a heartbeat carries: 0 (no suspects) where a node sent none (an older version) or none came yet. */
function reportOf(from: Partial<NodeReport> | undefined): NodeReport {
  return { ...figuresBy((field) => from?.[field] ?? 0), suspects: [...(from?.suspects ?? [])] };
}
