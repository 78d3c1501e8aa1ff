import type { BlockOpsReply, BlockOpsRequest, WarmBlock } from '../block/block-ops';
import { BlockOpsClient } from '../cluster/block-ops-client';
import { ownerOfBlock } from '../cluster/block-placement';
import type { ClusterTls } from '../rpc/types';
import { formatBytes } from '../config/units';
import { askDaemon } from '../control/control-client';
import { CachalotError } from '../errors';
import type { MetaClient } from '../meta/meta-client';
import type { LoadingNode } from './plan';

/** The nodes that do the work, and which of them owns a block. */
export interface Nodes {
  all: LoadingNode[];
  ownerOf(block: WarmBlock): LoadingNode;
  /** The block size they all use: blocks are planned with it. */
  blockSize: number;
  close(): void;
}

/** A member that loads blocks, weighted by its cache capacity as the read path weighs it (PeerSource). */
interface Owner {
  id: string;
  weight: number;
  node: LoadingNode;
}

/** A batch loads a few blocks behind the node's reads: bounded, but far above what it should take. */
const CALL_TIMEOUT_MS = 10 * 60_000;
const META_TIMEOUT_MS = 5000;

/** Standalone: the daemon of one mount loads everything, asked over its control socket. */
export async function mountNodes(mountpoint: string): Promise<Nodes> {
  const node: LoadingNode = { name: mountpoint, run: (request) => askDaemon(mountpoint, '/blocks', request, CALL_TIMEOUT_MS) as Promise<BlockOpsReply> };
  const blockSize = await blockSizeOf([node]);
  return { all: [node], ownerOf: () => node, blockSize, close: () => {} };
}

/**
 * Cluster: the members that serve blocks, in meta's view, each loading the
 * blocks it owns (weighted rendezvous, as the read path places them).
 */
export async function clusterNodes(meta: MetaClient, security: { token: string; tls?: ClusterTls }): Promise<Nodes> {
  const view = await meta.members(META_TIMEOUT_MS);
  const client = new BlockOpsClient({ ...security, timeoutMs: CALL_TIMEOUT_MS });
  const owners: Owner[] = view.members
    .filter((m) => m.address !== '')
    .map((m) => ({ id: m.id, weight: m.capacityBytes, node: { name: `${m.id} (${m.address})`, run: (request: BlockOpsRequest) => client.run(m.address, request) } }));
  if (owners.length === 0) throw new CachalotError('PeerFailed', `meta ${meta.address}: no member serves blocks (--peer-listen)`);
  try {
    const all = owners.map((o) => o.node);
    return { all, ownerOf: (block) => ownerOfBlock(block, owners)!.node, blockSize: await blockSizeOf(all), close: () => client.close() };
  } catch (err) {
    client.close();
    throw err;
  }
}

/** Asks every node for its block size (an empty batch): a cluster whose nodes differ cannot place blocks once. */
async function blockSizeOf(nodes: LoadingNode[]): Promise<number> {
  const sizes = await Promise.all(nodes.map(async (node) => ({ node, size: (await node.run({ op: 'check', pin: false, blocks: [] })).blockSize })));
  if (new Set(sizes.map((s) => s.size)).size > 1) {
    throw new CachalotError('InvalidConfig', `the nodes use different block sizes (${sizes.map((s) => `${s.node.name}: ${formatBytes(s.size)}`).join(', ')}): give them one --block-size`);
  }
  return sizes[0].size;
}
