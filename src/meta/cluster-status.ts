import { figuresBy, type Member, type MembershipView, type NodeFigures } from './types';

/**
 * What `cachalot status --json` prints. The shape is documented in
 * docs/CLUSTER.md and stable: fields may be added, none renamed or removed.
 */
export interface ClusterStatus {
  epoch: number;
  members: Member[];
  totals: NodeFigures & { members: number; alive: number; capacityBytes: number };
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
  };
}
