import type { BlockCache } from '../block/types';
import { readClusterToken } from '../rpc/cluster-token';
import { routeGrpcLogs } from '../rpc/grpc-logs';
import { readTls } from '../rpc/grpc-tls';
import type { ClusterTls } from '../rpc/types';
import type { PeerMember } from '../cluster/peer-source';
import type { ClusterNodeConfig } from '../config/mount-config';
import { ClusterMember } from '../meta/cluster-member';
import { createMetaClient, type MetaClient } from '../meta/meta-client';
import type { NodeReport } from '../meta/types';
import type { Logger } from '../obs/logger';

/** The client of --meta, shared by membership and listings; grpc-js logs go to ours from here on. */
export function metaClientFor(cluster: ClusterNodeConfig, security: ClusterSecurity, log: Logger): MetaClient {
  routeGrpcLogs(log);
  return createMetaClient(cluster.meta, security.token, { tls: security.tls });
}

/**
 * With --meta: registers this mount as a cluster node, advertising its peer
 * service at peerAddress, and keeps it a member until leave() (which closes
 * the client). Fails only when meta refuses the node (wrong token, failed TLS
 * handshake); an
 * unreachable meta is tried again in the background while the mount serves.
 */
export async function joinCluster(
  cluster: ClusterNodeConfig,
  client: MetaClient,
  peerAddress: string,
  cache: BlockCache,
  report: () => Promise<NodeReport>,
  log: Logger,
): Promise<ClusterMember> {
  const capacityBytes = cache.stats().reduce((total, tier) => total + tier.capacityBytes, 0);
  const member = new ClusterMember({ client, node: { nodeId: cluster.nodeId, peerAddress, capacityBytes }, report, log });
  await member.join();
  return member;
}

/** What a node shows and checks on every call to meta and between peers. */
export interface ClusterSecurity {
  token: string;
  /** Undefined: plain TCP. */
  tls?: ClusterTls;
}

/**
 * The cluster secret from --token-file (refused when group or others may
 * read it) and the TLS files; a node that serves peers needs a certificate
 * to serve TLS with.
 */
export function clusterSecurity(cluster: ClusterNodeConfig): ClusterSecurity {
  return { token: readClusterToken(cluster.tokenFile), tls: readTls(cluster.tls, cluster.peerListen !== undefined) };
}

/** The members that serve blocks, in this node's last view (none before it has one). */
export function peerMembers(member: ClusterMember | undefined): PeerMember[] {
  return (member?.status().members ?? []).filter((m) => m.address !== '').map(({ id, address, capacityBytes }) => ({ id, address, capacityBytes }));
}

