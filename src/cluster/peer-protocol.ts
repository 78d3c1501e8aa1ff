import type { BlockRequest } from '../block/types';
import { BadRequest } from '../errors';
import { grpcService } from '../rpc/grpc-service';
import { frameMessage, unframeMessage } from './block-chunk-codec';

/**
 * The peer service's block call (proto/cachalot/peer.proto): its path and its
 * request message, encoded by the .proto's own codec. Its response, the
 * stream of BlockChunks, is block-chunk-codec.ts; BlockOps is
 * block-ops-protocol.ts.
 */
const getBlock = () => grpcService('cachalot/peer.proto', 'cachalot.peer.v1.Peer').service.GetBlock;

export const GET_BLOCK_PATH = '/cachalot.peer.v1.Peer/GetBlock';

/** Which block: a slice of one version of one object. */
export type WireBlockRequest = Pick<BlockRequest, 'bucket' | 'key' | 'etag' | 'index' | 'objectSize' | 'blockSize'> & { acceptLz4?: boolean };

export function encodeBlockRequest({ bucket, key, etag, index, objectSize, blockSize, acceptLz4 }: WireBlockRequest): Buffer {
  return frameMessage(getBlock().requestSerialize({ bucket, key, etag, index, objectSize, blockSize, acceptLz4 }));
}

/** The request of a call's body: one uncompressed gRPC message naming a block that can exist. */
export function decodeBlockRequest(body: Buffer): WireBlockRequest {
  const message = unframeMessage(body);
  let request: WireBlockRequest;
  try {
    request = getBlock().requestDeserialize(message) as WireBlockRequest;
  } catch (err) {
    throw new BadRequest(`the request is not a BlockRequest: ${(err as Error).message}`);
  }
  const { bucket, key, index, objectSize, blockSize } = request;
  if (!bucket || !key || !(blockSize > 0) || !(index * blockSize < objectSize)) throw new BadRequest(`the request names no block (${bucket}/${key} #${index})`);
  return request;
}
