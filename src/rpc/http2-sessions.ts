import { connect, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';
import type { ClusterTls } from './types';

/**
 * One HTTP/2 connection per server address, made again once it has closed or
 * failed, with TLS when given: the server's certificate must chain to the CA
 * and name the address called (an IP SAN for an IP); ours is shown for
 * mutual TLS. Idle connections never keep a process alive.
 */
export class Http2Sessions {
  private readonly sessions = new Map<string, ClientHttp2Session>();
  /** Why a connection failed, for the calls on it that end without a word (a TLS alert, a server that hung up). */
  private readonly errors = new WeakMap<ClientHttp2Session, Error>();

  constructor(private readonly tls: ClusterTls | undefined) {}

  get(address: string): ClientHttp2Session {
    const known = this.sessions.get(address);
    if (known && !known.closed && !known.destroyed) return known;
    const { tls } = this;
    const secure: SecureClientSessionOptions = tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {};
    const session = connect(`${tls ? 'https' : 'http'}://${address}`, secure);
    const forget = () => this.sessions.get(address) === session && this.sessions.delete(address);
    // The calls on it fail (and say why); the next call connects again.
    session.on('error', (err) => {
      this.errors.set(session, err);
      forget();
    });
    session.on('goaway', forget);
    session.on('close', forget);
    session.unref();
    this.sessions.set(address, session);
    return session;
  }

  errorOf(session: ClientHttp2Session): Error | undefined {
    return this.errors.get(session);
  }

  close(): void {
    for (const session of this.sessions.values()) session.destroy();
    this.sessions.clear();
  }
}
