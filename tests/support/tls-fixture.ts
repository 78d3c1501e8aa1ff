// Throwaway certificates for the TLS tests, made with the openssl command in
// a directory of the test's own: a cluster CA and a node certificate it
// signed (for 127.0.0.1, both server and client use), and a stranger: a
// certificate just as good but signed by another CA.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TlsFiles } from '../../src/rpc/types';

export interface TlsFixture {
  /** The cluster's CA certificate. */
  ca: string;
  /** Signed by the cluster CA for IP 127.0.0.1; what meta, nodes and status use. */
  node: { cert: string; key: string };
  /** Another CA, and a certificate it signed for 127.0.0.1. */
  otherCa: string;
  stranger: { cert: string; key: string };
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
/** EC P-256: fast to make, and what a cluster would use. */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  openssl(['req', '-x509', ...NEW_KEY, '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`]);
  return { cert, key };
}

function makeLeaf(dir: string, name: string, ca: { cert: string; key: string }): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  openssl(['req', ...NEW_KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  // The address's IP as subjectAltName (clients check it), and both uses: a node serves peers and calls them.
  writeFileSync(ext, 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth, clientAuth\n');
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { cert, key };
}

/** Makes the CAs and certificates in dir (which the caller removes). */
export function makeTlsFixture(dir: string): TlsFixture {
  const ca = makeCa(dir, 'cluster-ca');
  const other = makeCa(dir, 'other-ca');
  return { ca: ca.cert, node: makeLeaf(dir, 'node', ca), otherCa: other.cert, stranger: makeLeaf(dir, 'stranger', other) };
}

/** The flags for files, as every command takes them. */
export function tlsArgs(files: TlsFiles): string[] {
  return [...(files.cert ? ['--tls-cert', files.cert] : []), ...(files.key ? ['--tls-key', files.key] : []), ...(files.ca ? ['--tls-ca', files.ca] : [])];
}
