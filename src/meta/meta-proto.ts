import type { ServiceClientConstructor } from '@grpc/grpc-js';
import { grpcService } from '../rpc/grpc-service';

/** The Meta service of proto/cachalot/meta.proto (see grpcService). */
export function metaService(): ServiceClientConstructor {
  return grpcService('cachalot/meta.proto', 'cachalot.meta.v1.Meta');
}
