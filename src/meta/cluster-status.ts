import type { Member, MembershipView } from './types';

/**
 * What `cachalot status --json` prints. The shape is documented in
 * docs/CLUSTER.md and stable: fields may be added, none renamed or removed.
 */
export interface ClusterStatus {
  epoch: number;
  members: Member[];
  totals: {
    members: number;
    alive: number;
    capacityBytes: number;
    usedBytes: number;
    hits: number;
    misses: number;
    pinnedBytes: number;
  };
}

export function clusterStatus(view: MembershipView): ClusterStatus {
  const total = (field: 'capacityBytes' | 'usedBytes' | 'hits' | 'misses' | 'pinnedBytes') => view.members.reduce((sum, m) => sum + m[field], 0);
  return {
    epoch: view.epoch,
    members: view.members,
    totals: {
      members: view.members.length,
      alive: view.members.filter((m) => m.state === 'alive').length,
      capacityBytes: total('capacityBytes'),
      usedBytes: total('usedBytes'),
      hits: total('hits'),
      misses: total('misses'),
      pinnedBytes: total('pinnedBytes'),
    },
  };
}
