import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { CachalotError } from '../errors';
import type { ClusterTls, TlsFiles } from './types';

const CERTIFICATE_PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads and checks the files; undefined when none is given (plain TCP).
 * A process that serves needs a certificate and key to serve TLS with. Every
 * problem is one InvalidConfig line naming the flag and the file.
 */
export function readTls(files: TlsFiles, serves: boolean): ClusterTls | undefined {
  const { cert: certFile, key: keyFile, ca: caFile } = files;
  if (certFile === undefined && keyFile === undefined && caFile === undefined) return undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new CachalotError('InvalidConfig', certFile === undefined ? '--tls-key needs --tls-cert' : '--tls-cert needs --tls-key');
  }
  if (serves && certFile === undefined) throw new CachalotError('InvalidConfig', '--tls-ca needs --tls-cert and --tls-key to serve TLS with');
  const tls: ClusterTls = {};
  if (caFile !== undefined) tls.ca = certificates('--tls-ca', caFile);
  if (certFile !== undefined && keyFile !== undefined) {
    tls.cert = certificates('--tls-cert', certFile);
    tls.key = privateKey(keyFile);
    try {
      createSecureContext({ cert: tls.cert, key: tls.key });
    } catch (err) {
      throw new CachalotError('InvalidConfig', `--tls-key ${keyFile} is not the key of --tls-cert ${certFile}`, { cause: err });
    }
  }
  return tls;
}

/** Server side: TLS with the certificate; with a CA, every client must show a certificate it signed. */
export function serverCredentials(tls: ClusterTls | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  // readTls(files, true) gives none such; never fall back to plain TCP when TLS was asked for.
  if (!tls.cert || !tls.key) throw new CachalotError('Internal', 'TLS to serve needs a certificate and its key');
  return ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== undefined);
}

/**
 * Client side: the server's certificate must chain to the CA (the system's
 * CAs without one) and name the host of the address called; the
 * certificate, when given, is shown to servers that ask for one.
 */
export function channelCredentials(tls: ClusterTls | undefined): ChannelCredentials {
  if (!tls) return ChannelCredentials.createInsecure();
  return ChannelCredentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
}

/** For a server's start line and log: "plain TCP", "TLS" or "mutual TLS". */
export function describeTls(tls: ClusterTls | undefined): string {
  if (!tls?.cert) return 'plain TCP';
  return tls.ca ? 'mutual TLS' : 'TLS';
}

function read(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CachalotError('InvalidConfig', `${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/** A file of one or more PEM certificates, each of which must parse. */
function certificates(flag: string, path: string): Buffer {
  const pem = read(flag, path);
  const blocks = pem.toString('latin1').match(CERTIFICATE_PEM) ?? [];
  if (blocks.length === 0) throw new CachalotError('InvalidConfig', `${flag} ${path}: no PEM certificate in it`);
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new CachalotError('InvalidConfig', `${flag} ${path}: certificate ${i + 1} is not valid PEM`, { cause: err });
    }
  });
  return pem;
}

function privateKey(path: string): Buffer {
  const pem = read('--tls-key', path);
  try {
    createPrivateKey(pem);
  } catch (err) {
    throw new CachalotError('InvalidConfig', `--tls-key ${path}: not a PEM private key (or one with a passphrase)`, { cause: err });
  }
  return pem;
}
