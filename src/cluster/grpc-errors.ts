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

/** A failed gRPC call as a one-line CachalotError naming the service called ("meta 10.0.0.5:7000"). */
export function fromGrpcError(err: unknown, service: string): CachalotError {
  const grpc = err as Partial<ServiceError>;
  // grpc-js ends a connection failure with an empty "Resolution note:".
  const details = String(grpc.details ?? grpc.message ?? err).split('\n')[0].replace(/\s*Resolution note:\s*$/, '');
  const sent = grpc.metadata?.get(CODE_KEY)[0];
  if (ERROR_CODES.includes(sent as ErrorCode)) return new CachalotError(sent as ErrorCode, `${service}: ${details}`, { cause: err });
  switch (grpc.code) {
    case status.UNAUTHENTICATED:
      return new CachalotError('Unauthenticated', `${service} refused the call: ${details}`, { cause: err });
    case status.UNAVAILABLE:
      return new CachalotError('EndpointUnreachable', `${service} unreachable: ${details}`, { cause: err });
    case status.DEADLINE_EXCEEDED:
      return new CachalotError('Timeout', `${service} did not answer in time`, { cause: err });
    default:
      return new CachalotError('ServerError', `${service} failed: ${details}`, { cause: err });
  }
}
