import { status } from '@grpc/grpc-js';
import { constants } from 'node:http2';
import { CachalotError } from '../errors';
import { AUTHORIZATION_HEADER, bearerValue } from './grpc-auth';
import { fromConnectionError, fromGrpcError } from './grpc-errors';
import { callHeaders, statusOf, type CallStatus } from './grpc-http2';
import type { Http2Sessions } from './http2-sessions';

export interface GrpcCall {
  /** The method's path, "/package.Service/Method". */
  path: string;
  /** The request, one gRPC-framed message. */
  body: Buffer;
  token: string;
  timeoutMs: number;
  /** Each piece of the response body as it arrives; an Error thrown ends the call (BadResponse, its message). */
  onData(piece: Buffer): void;
}

/**
 * One gRPC call on node:http2, over the server's connection in `sessions`,
 * as the peer service's clients make it: it resolves once the call ended
 * with status OK, else rejects with a one-line CachalotError naming
 * `service` ("peer H:P"): the status the server sent, the connection's
 * failure, a call ended without a status, a response the caller refused,
 * or the deadline. After it settles no more data is handed out.
 */
export function callGrpc(sessions: Http2Sessions, address: string, service: string, call: GrpcCall): Promise<void> {
  return attempt(sessions, address, service, call, Date.now() + call.timeoutMs, 0);
}

/** Times a call refused unprocessed (REFUSED_STREAM) is sent again. */
const MAX_REFUSALS = 3;

function attempt(sessions: Http2Sessions, address: string, service: string, call: GrpcCall, deadline: number, refusals: number): Promise<void> {
  const session = sessions.get(address);
  const stream = session.request(callHeaders(call.path, deadline - Date.now(), { [AUTHORIZATION_HEADER]: bearerValue(call.token) }));
  stream.end(call.body);
  return new Promise((resolve, reject) => {
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
    const timer = setTimeout(() => fail(new CachalotError('Timeout', `${service} did not answer within ${call.timeoutMs / 1000} s`)), Math.max(0, deadline - Date.now()));
    stream.on('response', (headers) => {
      responded = true;
      callStatus ??= statusOf(headers);
    });
    stream.on('trailers', (trailers) => (callStatus ??= statusOf(trailers)));
    stream.on('data', (piece: Buffer) => {
      if (settled) return;
      try {
        call.onData(piece);
      } catch (err) {
        fail(new CachalotError('BadResponse', `${service} ${(err as Error).message}`, { cause: err }));
      }
    });
    stream.on('error', (err) => {
      if (!settled && !responded && stream.rstCode === constants.NGHTTP2_REFUSED_STREAM && refusals < MAX_REFUSALS) {
        // Not processed (RFC 9113, 8.7): calls sent before the owner's SETTINGS
        // came passed its limit of calls at once. Sent again, it waits its turn.
        settled = true;
        clearTimeout(timer);
        attempt(sessions, address, service, call, deadline, refusals + 1).then(resolve, reject);
        return;
      }
      fail(fromConnectionError(err, service));
    });
    stream.on('close', () => {
      if (settled) return;
      if (!callStatus) {
        // Without a response the server hung up before HTTP/2 began; the connection's own failure says more when there was one.
        const cause = sessions.errorOf(session) ?? (responded ? undefined : Object.assign(new Error('closed'), { code: 'ECONNRESET' }));
        return fail(cause ? fromConnectionError(cause, service) : new CachalotError('BadResponse', `${service} ended the call without a status`));
      }
      if (callStatus.code !== status.OK) return fail(fromGrpcError(callStatus, service));
      settled = true;
      clearTimeout(timer);
      resolve();
    });
  });
}
