import { createHash } from 'node:crypto';

export interface Candidate {
  id: string;
  /** Relative share of blocks this member should own: its cache capacity. */
  weight: number;
}

/**
 * The owner of a key among the live members, by weighted rendezvous hashing
 * (highest random weight): every member scores the key and the highest score
 * owns it. Every node computes the same owner from the same member list, with
 * no coordination, and when a member joins or leaves only the keys it wins or
 * held move: the rest of the cluster's cached blocks stay where they are.
 *
 * Score: -weight / ln(u), with u in (0, 1) from a hash of (member, key):
 * a member's share of keys is proportional to its weight (Schindelhauer and
 * Schomaker, "Weighted distributed hash tables", 2005).
 */
export function ownerOf<T extends Candidate>(key: string, members: readonly T[]): T | undefined {
  let best: T | undefined;
  let bestScore = -Infinity;
  for (const member of members) {
    if (!(member.weight > 0)) continue;
    const score = -member.weight / Math.log(unitHash(member.id, key));
    // Ties (astronomically rare) go to the smaller id, so every node agrees.
    if (score > bestScore || (score === bestScore && best !== undefined && member.id < best.id)) {
      best = member;
      bestScore = score;
    }
  }
  return best;
}

/** A uniform number in (0, 1) from the first 52 bits of SHA-1(member \0 key). */
function unitHash(member: string, key: string): number {
  const digest = createHash('sha1').update(member).update('\0').update(key).digest();
  const high = digest.readUInt32BE(0) >>> 12; // 20 bits
  const low = digest.readUInt32BE(4); // 32 bits
  return (high * 2 ** 32 + low + 0.5) / 2 ** 52;
}
