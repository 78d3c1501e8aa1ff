import { status, type ServiceError } from '@grpc/grpc-js';
import { CachalotError } from '../errors';

/** A failed gRPC call as a one-line CachalotError naming the service called ("meta 10.0.0.5:7000"). */
export function fromGrpcError(err: unknown, service: string): CachalotError {
  const grpc = err as Partial<ServiceError>;
  // grpc-js ends a connection failure with an empty "Resolution note:".
  const details = String(grpc.details ?? grpc.message ?? err).split('\n')[0].replace(/\s*Resolution note:\s*$/, '');
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
