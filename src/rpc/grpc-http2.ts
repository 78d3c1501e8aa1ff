import { status } from '@grpc/grpc-js';
import type { Http2SecureServer, Http2Server, IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { CachalotError, oneLine } from '../errors';

/**
 * The few parts of the gRPC protocol over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md)
 * that the peer service speaks on node:http2 itself: headers, the timeout,
 * and the status, which comes in trailers or, for a call refused before any
 * message, alone in the response headers ("trailers-only").
 */
export const GRPC_CONTENT_TYPE = 'application/grpc';

/** The request headers of a call: `grpc-timeout` tells the server when the caller gives up. */
export function callHeaders(path: string, timeoutMs: number, extra: OutgoingHttpHeaders): OutgoingHttpHeaders {
  return { ':method': 'POST', ':path': path, 'content-type': GRPC_CONTENT_TYPE, te: 'trailers', 'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`, ...extra };
}

const OK_HEADERS: OutgoingHttpHeaders = { ':status': 200, 'content-type': GRPC_CONTENT_TYPE };

/** Starts a successful response: headers now, status OK in trailers once the stream ends. */
export function respondOk(stream: ServerHttp2Stream): void {
  stream.respond(OK_HEADERS, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(status.OK) }));
}

/** A trailers-only response: the call fails before any message. */
export function failureHeaders(code: status, details: string): OutgoingHttpHeaders {
  return { ...OK_HEADERS, 'grpc-status': String(code), 'grpc-message': encodeURIComponent(details) };
}

export interface CallStatus {
  code: status;
  details: string;
}

/** The status in trailers (or trailers-only headers); undefined when these headers carry none. */
export function statusOf(headers: IncomingHttpHeaders): CallStatus | undefined {
  const code = headers['grpc-status'];
  if (typeof code !== 'string') return undefined;
  const message = headers['grpc-message'];
  return { code: Number(code), details: typeof message === 'string' ? safeDecode(message) : '' };
}

/** Binds an HTTP/2 server to HOST:PORT (port 0: any free one); the address actually bound. */
export function listenHttp2(server: Http2Server | Http2SecureServer, listen: string, what: string): Promise<string> {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon);
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => reject(new CachalotError('ListenFailed', `${what} cannot listen on ${listen}: ${oneLine(err)}`, { cause: err }));
    server.once('error', failed);
    server.listen(Number(listen.slice(colon + 1)), host, () => {
      server.off('error', failed);
      const address = server.address();
      resolve(`${host}:${typeof address === 'object' && address ? address.port : 0}`);
    });
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
