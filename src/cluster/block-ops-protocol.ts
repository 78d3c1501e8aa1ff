import { BLOCK_OPS, BLOCK_OUTCOMES, parseBlockOpsRequest, type BlockOpsReply, type BlockOpsRequest } from '../block/block-ops';
import { BadRequest } from '../errors';
import { grpcService } from '../rpc/grpc-service';
import { frameMessage, unframeMessage } from './block-chunk-codec';

/**
 * The peer service's BlockOps call (proto/cachalot/peer.proto): its path and
 * its messages, encoded by the .proto's own codec. The enums travel as
 * numbers, their index in BLOCK_OPS and BLOCK_OUTCOMES (the .proto's order).
 */
const method = () => grpcService('cachalot/peer.proto', 'cachalot.peer.v1.Peer').service.BlockOps;

export const BLOCK_OPS_PATH = '/cachalot.peer.v1.Peer/BlockOps';

export function encodeBlockOpsRequest(request: BlockOpsRequest): Buffer {
  return frameMessage(method().requestSerialize({ ...request, op: BLOCK_OPS.indexOf(request.op) }));
}

/** The request of a call's body, checked as the control socket checks its JSON. */
export function decodeBlockOpsRequest(body: Buffer): BlockOpsRequest {
  const message = unframeMessage(body);
  let decoded: { op: number } & Omit<BlockOpsRequest, 'op'>;
  try {
    decoded = method().requestDeserialize(message);
  } catch (err) {
    throw new BadRequest(`the request is not a BlockOpsRequest: ${(err as Error).message}`);
  }
  return parseBlockOpsRequest({ ...decoded, op: BLOCK_OPS[decoded.op] });
}

export function encodeBlockOpsReply(reply: BlockOpsReply): Buffer {
  const results = reply.results.map((r) => ({ ...r, outcome: BLOCK_OUTCOMES.indexOf(r.outcome) }));
  return frameMessage(method().responseSerialize({ ...reply, results }));
}

export function decodeBlockOpsReply(body: Buffer): BlockOpsReply {
  const reply = method().responseDeserialize(unframeMessage(body)) as Omit<BlockOpsReply, 'results'> & { results: Array<{ outcome: number }> };
  const results = reply.results.map((r) => ({ ...r, outcome: BLOCK_OUTCOMES[r.outcome] ?? 'failed' })) as BlockOpsReply['results'];
  return { ...reply, results };
}
