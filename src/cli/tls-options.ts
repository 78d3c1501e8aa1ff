import type { Command } from 'commander';
import type { TlsFiles } from '../rpc/types';

/** The TLS flags as commander parses them. */
export interface TlsFlags {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

/** --tls-cert, --tls-key, --tls-ca: the same on every command that serves or calls meta or peers (docs/CLUSTER.md#tls). */
export function withTlsOptions(command: Command): Command {
  return command
    .option('--tls-cert <file>', 'PEM certificate (chain): served with TLS, and shown to servers that ask for a client certificate; with --tls-key')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--tls-ca <file>', 'PEM CA certificates: servers called must have a certificate they signed, and when serving so must every client (mutual TLS)');
}

export function tlsFiles(flags: TlsFlags): TlsFiles {
  return { cert: flags.tlsCert, key: flags.tlsKey, ca: flags.tlsCa };
}
