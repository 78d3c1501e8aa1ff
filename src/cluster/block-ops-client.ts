import { status } from '@grpc/grpc-js';
import { constants } from 'node:http2';
import type { BlockOpsReply, BlockOpsRequest } from '../block/block-ops';
import { CachalotError, oneLine } from '../errors';
import { BLOCK_OPS_PATH, decodeBlockOpsReply, encodeBlockOpsRequest } from './block-ops-protocol';
import { AUTHORIZATION_HEADER, bearerValue } from './grpc-auth';
import { fromConnectionError, fromGrpcError } from './grpc-errors';
import { callHeaders, statusOf, type CallStatus } from './grpc-http2';
import type { ClusterTls } from './grpc-tls';
import { PeerSessions } from './peer-sessions';

export interface BlockOpsClientOptions {
  token: string;
  tls?: ClusterTls;
  /** Bound of one call: a batch loads a few blocks, behind the node's reads. */
  timeoutMs: number;
}

/** Calls BlockOps on cluster nodes (proto/cachalot/peer.proto), one connection per node. */
export class BlockOpsClient {
  private readonly sessions: PeerSessions;

  constructor(private readonly options: BlockOpsClientOptions) {
    this.sessions = new PeerSessions(options.tls);
  }

  run(address: string, request: BlockOpsRequest): Promise<BlockOpsReply> {
    const { timeoutMs, token } = this.options;
    const service = `peer ${address}`;
    const session = this.sessions.get(address);
    const stream = session.request(callHeaders(BLOCK_OPS_PATH, timeoutMs, { [AUTHORIZATION_HEADER]: bearerValue(token) }));
    stream.end(encodeBlockOpsRequest(request));
    return new Promise((resolve, reject) => {
      const pieces: Buffer[] = [];
      let callStatus: CallStatus | undefined;
      let responded = false;
      let settled = false;
      const fail = (err: CachalotError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stream.close(constants.NGHTTP2_CANCEL);
        reject(err);
      };
      const timer = setTimeout(() => fail(new CachalotError('Timeout', `${service} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
      stream.on('response', (headers) => {
        responded = true;
        callStatus ??= statusOf(headers);
      });
      stream.on('trailers', (trailers) => (callStatus ??= statusOf(trailers)));
      stream.on('data', (piece: Buffer) => pieces.push(piece));
      stream.on('error', (err) => fail(fromConnectionError(err, service)));
      stream.on('close', () => {
        if (settled) return;
        if (!callStatus) {
          const cause = this.sessions.errorOf(session) ?? Object.assign(new Error(responded ? 'the call ended without a status' : 'closed'), { code: 'ECONNRESET' });
          return fail(fromConnectionError(cause, service));
        }
        if (callStatus.code !== status.OK) return fail(fromGrpcError(callStatus, service));
        try {
          const reply = decodeBlockOpsReply(Buffer.concat(pieces));
          settled = true;
          clearTimeout(timer);
          resolve(reply);
        } catch (err) {
          fail(new CachalotError('BadResponse', `${service} sent a reply that is not a BlockOpsReply: ${oneLine(err)}`));
        }
      });
    });
  }

  close(): void {
    this.sessions.close();
  }
}
