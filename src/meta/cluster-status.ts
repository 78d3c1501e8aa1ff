import { compareCodeUnits } from '../code-unit-order';
import { figuresBy, type Member, type MembershipView, type NodeFigures } from './types';

/**
 * What `cachalot status --json` prints. The shape is documented in
 * docs/CLUSTER.md and stable: fields may be added, none renamed or removed.
 */
export interface ClusterStatus {
  epoch: number;
  members: Member[];
  totals: NodeFigures & { members: number; alive: number; capacityBytes: number };
  /**
   * Each peer that some members pass over now (it failed a request of theirs;
   * they read its blocks from S3 meanwhile), by id, with those members' ids.
   * A dead node shows here before its lease lapses; a node that is up but
   * here is unreachable from those members, or too slow for them.
   */
  suspects: Array<{ id: string; by: string[] }>;
}

export function clusterStatus(view: MembershipView): ClusterStatus {
  const total = (field: keyof NodeFigures | 'capacityBytes') => view.members.reduce((sum, m) => sum + m[field], 0);
  return {
    epoch: view.epoch,
    members: view.members,
    totals: {
      members: view.members.length,
      alive: view.members.filter((m) => m.state === 'alive').length,
      capacityBytes: total('capacityBytes'),
      ...figuresBy(total),
    },
    suspects: suspectsOf(view.members),
  };
}

function suspectsOf(members: Member[]): ClusterStatus['suspects'] {
  const by = new Map<string, string[]>();
  for (const member of members) {
    for (const id of member.suspects) by.set(id, [...(by.get(id) ?? []), member.id]);
  }
  return [...by].sort(([a], [b]) => compareCodeUnits(a, b)).map(([id, members]) => ({ id, by: members }));
}
