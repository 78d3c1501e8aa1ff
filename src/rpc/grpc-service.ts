import { loadPackageDefinition, type Server, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { resolve } from 'node:path';
import { CachalotError, oneLine } from '../errors';
import { serverCredentials } from './grpc-tls';
import type { ClusterTls } from './types';

/** From dist/src/rpc/ to proto/ at the top of the checkout or install, as native-fuse.ts finds native/. */
const PROTO_DIR = resolve(__dirname, '../../../proto');

const loaded = new Map<string, ServiceClientConstructor>();

/**
 * A service of one of the repo's .proto files, loaded at run time: a client
 * constructor whose `service` is the server's definition. Fields are
 * camelCase and 64-bit integers plain numbers (exact up to 2^53).
 */
export function grpcService(file: string, name: string): ServiceClientConstructor {
  const id = `${file}#${name}`;
  let service = loaded.get(id);
  if (!service) {
    const definition = loadSync(resolve(PROTO_DIR, file), { longs: Number, defaults: true });
    let node: unknown = loadPackageDefinition(definition);
    for (const part of name.split('.')) node = (node as Record<string, unknown>)[part];
    service = node as ServiceClientConstructor;
    loaded.set(id, service);
  }
  return service;
}

/** Binds a server to HOST:PORT (port 0: any free one), with TLS when given, else plain TCP; the address actually bound. */
export function bindServer(server: Server, listen: string, what: string, tls: ClusterTls | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    server.bindAsync(listen, serverCredentials(tls), (err, port) => {
      // grpc-js wraps the socket's reason: "No address added out of total 1 resolved errors: [listen EADDRINUSE: ...]".
      const reason = (text: string) => /errors: \[(.*)\]/.exec(text)?.[1] ?? text;
      if (err) reject(new CachalotError('ListenFailed', `${what} cannot listen on ${listen}: ${reason(oneLine(err))}`, { cause: err }));
      else resolve(`${listen.slice(0, listen.lastIndexOf(':'))}:${port}`);
    });
  });
}
