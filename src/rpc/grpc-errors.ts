import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { CachalotError, ERROR_CODES, type ErrorCode } from '../errors';

/**
 * A server's CachalotError travels as trailing metadata beside the gRPC
 * status, so that the caller gets the same code (an S3 error meta met is
 * NoSuchBucket on the node too, not "meta failed"), and a failure meta
 * reports is never mistaken for meta being unreachable.
 */
const CODE_KEY = 'cachalot-error-code';

/** The status a code is sent with, for callers that do not read CODE_KEY (grpcurl); INTERNAL for the rest. */
const STATUS_OF: Partial<Record<ErrorCode, status>> = {
  NoSuchBucket: status.NOT_FOUND,
  NotFound: status.NOT_FOUND,
  AccessDenied: status.PERMISSION_DENIED,
  InvalidCredentials: status.PERMISSION_DENIED,
  Throttled: status.RESOURCE_EXHAUSTED,
  ListingTooLarge: status.RESOURCE_EXHAUSTED,
  ListingExpired: status.FAILED_PRECONDITION,
  InvalidUri: status.INVALID_ARGUMENT,
};

/** A server's typed failure as the status a handler answers with. */
export function toGrpcStatus(err: CachalotError): Partial<StatusObject> {
  const metadata = new Metadata();
  metadata.set(CODE_KEY, err.code);
  return { code: STATUS_OF[err.code] ?? status.INTERNAL, details: err.message, metadata };
}

/** How grpc-js words a call that failed because no connection could be made. */
const NO_CONNECTION = /^No connection established\. Last error: /;
/** A connection that failed in its TLS handshake: a certificate not trusted, refused, missing, or TLS on one side only. */
const TLS_FAILURE = /certificate|alert|SSL routines|ERR_TLS_/i;
/** grpc-js's words when the server closed the connection before HTTP/2 began, without a reason (a TLS server asked in plain TCP, a client certificate refused). */
const CLOSED_DURING_SETUP = /^Failed to connect$/;

/** A failed gRPC call as a one-line CachalotError naming the service called ("meta 10.0.0.5:7000"). */
export function fromGrpcError(err: unknown, service: string): CachalotError {
  const grpc = err as Partial<ServiceError>;
  const raw = String(grpc.details ?? grpc.message ?? err);
  const details = reason(raw);
  const sent = grpc.metadata?.get(CODE_KEY)[0];
  if (ERROR_CODES.includes(sent as ErrorCode)) return new CachalotError(sent as ErrorCode, `${service}: ${details}`, { cause: err });
  switch (grpc.code) {
    case status.UNAUTHENTICATED:
      return new CachalotError('Unauthenticated', `${service} refused the call: ${details}`, { cause: err });
    case status.UNAVAILABLE:
      if (NO_CONNECTION.test(raw) && TLS_FAILURE.test(raw)) return tlsRefused(service, details, err);
      if (CLOSED_DURING_SETUP.test(details)) return closedDuringSetup(service, err);
      return new CachalotError('EndpointUnreachable', `${service} unreachable: ${details}`, { cause: err });
    case status.DEADLINE_EXCEEDED:
      return new CachalotError('Timeout', `${service} did not answer in time`, { cause: err });
    default:
      return new CachalotError('ServerError', `${service} failed: ${details}`, { cause: err });
  }
}

/**
 * A connection to a gRPC server that node:http2 could not make or lost (the
 * peer service's client), worded as fromGrpcError words grpc-js's.
 */
export function fromConnectionError(err: Error & { code?: string }, service: string): CachalotError {
  // A call cancelled because its connection failed carries the connection's error as its cause.
  const root = (err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause instanceof Error ? err.cause : err) as Error & { code?: string };
  if (TLS_FAILURE.test(root.message) || /^ERR_SSL_|CERT/.test(root.code ?? '')) return tlsRefused(service, reason(root.message), err);
  // A plain client to a TLS server (or a refused client certificate): the server drops it before HTTP/2 begins.
  if (root.code === 'ECONNRESET' || root.code === 'ERR_HTTP2_SESSION_ERROR' || root.code === 'ERR_HTTP2_STREAM_CANCEL') return closedDuringSetup(service, err);
  return new CachalotError('EndpointUnreachable', `${service} unreachable: ${reason(root.message)}`, { cause: err });
}

/** Misconfigured TLS is a refusal, as a wrong token is: a node must not start outside its cluster. */
function tlsRefused(service: string, details: string, cause: unknown): CachalotError {
  return new CachalotError('Unauthenticated', `${service}: TLS handshake failed: ${details} (check --tls-ca, --tls-cert, --tls-key)`, { cause });
}

function closedDuringSetup(service: string, cause: unknown): CachalotError {
  return new CachalotError('EndpointUnreachable', `${service} unreachable: it closed the connection during setup (TLS on one side only, or a client certificate refused?)`, { cause });
}

/**
 * grpc-js's details, down to the reason on one line: without its "No
 * connection established. Last error:" wrapping, timestamp and empty
 * "Resolution note:", and an OpenSSL error string ("8...:error:0A00045C:SSL
 * routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/...")
 * down to its reason.
 */
function reason(details: string): string {
  return details
    .replace(/\s*Resolution note:\s*$/, '')
    .replace(NO_CONNECTION, '')
    .replace(/^Error( \[\w+\])?: /, '')
    .replace(/[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:\n]+):[^\n]*/, '$1')
    .replace(/\s*\(\d{4}-\d\d-\d\dT[\d:.]+Z\)/, '')
    .split('\n')[0]
    .trim()
    .replace(/\.$/, '');
}
