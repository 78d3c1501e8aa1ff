/**
 * The rpc layer's contract: gRPC as meta and the peer service speak it,
 * whether through grpc-js (meta) or on node:http2 and native/peer (the peer
 * service): the cluster secret on every call, TLS, errors as CachalotErrors
 * with their codes. Every process of a cluster reads one set of TLS files
 * (docs/CLUSTER.md#tls): its certificate and key serve TLS and are its
 * client certificate; the CA verifies the servers it calls and, when it
 * serves, the client certificates it requires (mutual TLS). Without any:
 * plain TCP.
 */

/** The TLS files as given (flags or config file). */
export interface TlsFiles {
  /** --tls-cert: PEM certificate chain, leaf first. */
  cert?: string;
  /** --tls-key: PEM private key of the certificate, without a passphrase. */
  key?: string;
  /** --tls-ca: PEM CA certificates. */
  ca?: string;
}

/** The files' PEM contents, read and checked once at start (grpc-tls.ts): a bad file fails the start, not a connection later. */
export interface ClusterTls {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}
