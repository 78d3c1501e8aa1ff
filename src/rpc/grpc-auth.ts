import {
  InterceptingCall,
  Interceptor,
  ResponderBuilder,
  ServerInterceptingCall,
  ServerInterceptor,
  ServerListenerBuilder,
  status,
} from '@grpc/grpc-js';
import { tokensMatch } from './cluster-token';

/**
 * The cluster secret on the wire: every call carries `authorization: Bearer
 * <token>` as gRPC metadata, and servers (meta, the peer service) refuse a
 * call without it, whatever its method or kind. In clear over plain TCP;
 * TLS (grpc-tls.ts) keeps it from the wire.
 */
export const AUTHORIZATION_HEADER = 'authorization';
const SCHEME = 'Bearer ';

/** The header value that carries the token. */
export function bearerValue(token: string): string {
  return SCHEME + token;
}

/** Adds the token to every call of a client. */
export function bearerTokenInterceptor(token: string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set(AUTHORIZATION_HEADER, bearerValue(token));
        next(metadata, listener);
      },
    });
}

/** Refuses (UNAUTHENTICATED, one line) every call whose token is missing or wrong, before any handler runs. */
export function requireBearerToken(token: string, onRefused?: (peer: string, reason: string) => void): ServerInterceptor {
  return (_method, call) => {
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const reason = tokenRefusal(metadata.get(AUTHORIZATION_HEADER)[0], token);
        if (reason === undefined) return next(metadata);
        onRefused?.(call.getPeer(), reason);
        call.sendStatus({ code: status.UNAUTHENTICATED, details: `${reason} (check --token-file)` });
      })
      .build();
    return new ServerInterceptingCall(call, new ResponderBuilder().withStart((next) => next(listener)).build());
  };
}

/** Why a call's authorization value is refused, or undefined when it carries the token. */
export function tokenRefusal(value: unknown, token: string): string | undefined {
  if (typeof value !== 'string' || !value.startsWith(SCHEME)) return 'no cluster token';
  return tokensMatch(value.slice(SCHEME.length), token) ? undefined : 'wrong cluster token';
}
