import { loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { resolve } from 'node:path';

/** From dist/src/meta/ to proto/ at the top of the checkout or install, as native-fuse.ts finds native/. */
const PROTO_FILE = resolve(__dirname, '../../../proto/cachalot/meta.proto');

let service: ServiceClientConstructor | undefined;

/**
 * The Meta service of proto/cachalot/meta.proto, loaded at run time: a client
 * constructor whose `service` is the server's definition. Fields are camelCase
 * and 64-bit integers plain numbers (exact up to 2^53: 8 PiB of cache).
 */
export function metaService(): ServiceClientConstructor {
  if (!service) {
    const definition = loadSync(PROTO_FILE, { longs: Number, defaults: true });
    const grpc = loadPackageDefinition(definition) as unknown as { cachalot: { meta: { v1: { Meta: ServiceClientConstructor } } } };
    service = grpc.cachalot.meta.v1.Meta;
  }
  return service;
}
