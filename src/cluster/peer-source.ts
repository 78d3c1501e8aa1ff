import type { BlockBuffer } from '../block/block-buffer';
import type { BlockRequest, BlockSource } from '../block/types';
import { compareCodeUnits } from '../code-unit-order';
import { oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import { ownerOfBlock } from './block-placement';
import type { PeerClient } from './peer-client';

/** A live member that serves blocks: its id, peer address and cache capacity (the placement weight). */
export interface PeerMember {
  id: string;
  address: string;
  capacityBytes: number;
}

/** A peer this node passes over (it failed a request), and for how much longer. */
export interface Suspect {
  id: string;
  msLeft: number;
}

/** Where a block loaded on a local miss came from: its owner, S3, or S3 after the owner failed. */
export type PeerOutcome = 'peer' | 'origin' | 'peer-failed';

export interface PeerSourceOptions {
  selfId: string;
  /** The live members now, this node among them (the membership view). */
  members: () => readonly PeerMember[];
  /** Asks a peer for a block: PeerClient, a fake in tests. */
  peers: Pick<PeerClient, 'fetch'>;
  /** S3: where a block comes from when this node owns it, or its owner failed. */
  origin: BlockSource;
  /** How long a peer that failed is passed over before it is asked again. */
  suspectMs: number;
  log: Logger;
  now?: () => number;
  /** Counts where blocks came from and peers that failed, for metrics. */
  onOutcome?: (outcome: PeerOutcome) => void;
}

/**
 * The origin as seen from one node of a cluster: a block is fetched from S3
 * by the node that owns it (rendezvous hashing over the live members,
 * weighted by cache capacity), so that it leaves S3 once per cluster, not
 * once per node; the other nodes ask the owner. A peer that fails (dead,
 * slow past the bound, bytes that fail the checksum) is passed over for a
 * while and the block fetched from S3: a read never fails because a peer did.
 *
 * Blocks fetched from a peer are marked remote: the node may keep them in
 * RAM, but its disk tier leaves them to their owner's, so that the cluster's
 * disks together hold a dataset larger than one node's.
 */
export class PeerSource implements BlockSource {
  /** Peer id -> when it may be asked again (ms). */
  private readonly suspectUntil = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: PeerSourceOptions) {
    this.now = options.now ?? Date.now;
  }

  async load(request: BlockRequest): Promise<BlockBuffer> {
    const owner = request.fromPeer || request.warm ? undefined : this.ownerOf(request);
    if (!owner) return this.fromOrigin(request);
    try {
      const block = await this.options.peers.fetch(owner.address, request);
      block.remote = true;
      this.options.onOutcome?.('peer');
      return block;
    } catch (err) {
      this.suspectUntil.set(owner.id, this.now() + this.options.suspectMs);
      this.options.onOutcome?.('peer-failed');
      this.options.log.warn({ peer: owner.id, address: owner.address, key: request.key, index: request.index, err: oneLine(err) }, 'peer failed; reading from S3');
      return this.fromOrigin(request);
    }
  }

  /** The peers passed over now, by id; the ones whose time is up are forgotten. */
  suspects(): Suspect[] {
    const now = this.now();
    const out: Suspect[] = [];
    for (const [id, until] of this.suspectUntil) {
      if (now < until) out.push({ id, msLeft: until - now });
      else this.suspectUntil.delete(id);
    }
    return out.sort((a, b) => compareCodeUnits(a.id, b.id));
  }

  /** The owner when it is another node that is not suspect; undefined to go to S3. */
  private ownerOf(request: BlockRequest): PeerMember | undefined {
    const members = this.options.members().map((m) => ({ ...m, weight: m.capacityBytes }));
    const owner = ownerOfBlock(request, members);
    if (!owner || owner.id === this.options.selfId) return undefined;
    const until = this.suspectUntil.get(owner.id);
    if (until !== undefined) {
      if (this.now() < until) return undefined;
      this.suspectUntil.delete(owner.id);
    }
    return owner;
  }

  private fromOrigin(request: BlockRequest): Promise<BlockBuffer> {
    this.options.onOutcome?.('origin');
    return this.options.origin.load(request);
  }
}
