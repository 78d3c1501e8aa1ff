import type { BlockOpsReply, BlockOpsRequest } from '../block/block-ops';
import { CachalotError, oneLine } from '../errors';
import { callGrpc } from '../rpc/grpc-call';
import type { ClusterTls } from '../rpc/types';
import { Http2Sessions } from '../rpc/http2-sessions';
import { BLOCK_OPS_PATH, decodeBlockOpsReply, encodeBlockOpsRequest } from './block-ops-protocol';

export interface BlockOpsClientOptions {
  token: string;
  tls?: ClusterTls;
  /** Bound of one call: a batch loads a few blocks, behind the node's reads. */
  timeoutMs: number;
}

/** Calls BlockOps on cluster nodes (proto/cachalot/peer.proto), one connection per node. */
export class BlockOpsClient {
  private readonly sessions: Http2Sessions;

  constructor(private readonly options: BlockOpsClientOptions) {
    this.sessions = new Http2Sessions(options.tls);
  }

  async run(address: string, request: BlockOpsRequest): Promise<BlockOpsReply> {
    const { timeoutMs, token } = this.options;
    const service = `peer ${address}`;
    const pieces: Buffer[] = [];
    await callGrpc(this.sessions, address, service, {
      path: BLOCK_OPS_PATH,
      body: encodeBlockOpsRequest(request),
      token,
      timeoutMs,
      onData: (piece) => pieces.push(piece),
    });
    try {
      return decodeBlockOpsReply(Buffer.concat(pieces));
    } catch (err) {
      throw new CachalotError('BadResponse', `${service} sent a reply that is not a BlockOpsReply: ${oneLine(err)}`);
    }
  }

  close(): void {
    this.sessions.close();
  }
}
