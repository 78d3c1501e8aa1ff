// BlockOps over the peer service on 127.0.0.1: cachalot's client and stock
// grpc-js get the same reply (enums and all fields through the .proto's
// codec); a wrong token and a block that cannot exist are refused.
import assert from 'node:assert/strict';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { after, test } from 'node:test';
import type { BlockOpsReply, BlockOpsRequest } from '../../src/block/block-ops';
import { BlockOpsClient } from '../../src/cluster/block-ops-client';
import { bearerTokenInterceptor } from '../../src/rpc/grpc-auth';
import { grpcService } from '../../src/rpc/grpc-service';
import { startPeerServer, type PeerServer } from '../../src/cluster/peer-server';
import { isCachalotError } from '../../src/errors';
import { silentLogger } from '../../src/obs/logger';

const TOKEN = 'ops-secret';
const servers: PeerServer[] = [];
after(async () => {
  for (const server of servers) await server.stop();
});

const asked: BlockOpsRequest[] = [];
const ops = {
  run: async (request: BlockOpsRequest): Promise<BlockOpsReply> => {
    asked.push(request);
    return {
      results: request.blocks.map((b, i) => ({ outcome: i === 0 ? 'loaded' : 'failed', pinned: request.pin, errorCode: i === 0 ? '' : 'PreconditionFailed', error: i === 0 ? '' : `${b.key} changed` })),
      blockSize: 1 << 20,
      pinnedBytes: 3 << 20,
      pinCapacityBytes: 1 << 30,
    };
  },
};
const block = (index: number) => ({ bucket: 'b', key: 'train/x', etag: '"e"', index, objectSize: 5 << 20, blockSize: 1 << 20 });

test('a batch and its results through cachalot’s client and stock grpc-js', async () => {
  const server = await startPeerServer({ listen: '127.0.0.1:0', token: TOKEN, source: { load: () => Promise.reject(new Error('unused')) }, ops, log: silentLogger });
  servers.push(server);
  const client = new BlockOpsClient({ token: TOKEN, timeoutMs: 5000 });
  const reply = await client.run(server.address, { op: 'warm', pin: true, blocks: [block(0), block(4)] });
  assert.deepEqual(asked.at(-1), { op: 'warm', pin: true, blocks: [block(0), block(4)] });
  assert.deepEqual(reply, {
    results: [
      { outcome: 'loaded', pinned: true, errorCode: '', error: '' },
      { outcome: 'failed', pinned: true, errorCode: 'PreconditionFailed', error: 'train/x changed' },
    ],
    blockSize: 1 << 20,
    pinnedBytes: 3 << 20,
    pinCapacityBytes: 1 << 30,
  });

  await assert.rejects(client.run(server.address, { op: 'check', pin: false, blocks: [block(5)] }), (err) => isCachalotError(err) && /no block 5/.test((err as Error).message));
  const intruder = new BlockOpsClient({ token: 'wrong', timeoutMs: 5000 });
  await assert.rejects(intruder.run(server.address, { op: 'evict', pin: false, blocks: [] }), (err) => isCachalotError(err, 'Unauthenticated'));
  client.close();
  intruder.close();

  const Peer = grpcService('cachalot/peer.proto', 'cachalot.peer.v1.Peer');
  const stock = new Peer(server.address, credentials.createInsecure(), { interceptors: [bearerTokenInterceptor(TOKEN)] });
  const viaGrpcJs = await new Promise<{ results: Array<{ outcome: number }>; blockSize: number }>((resolve, reject) =>
    (stock as unknown as Record<string, (r: unknown, cb: (err: ServiceError | null, reply: never) => void) => void>).BlockOps({ op: 'CHECK', blocks: [block(1)] }, (err, r) => (err ? reject(err) : resolve(r))),
  );
  stock.close();
  assert.equal(asked.at(-1)?.op, 'check');
  assert.deepEqual([viaGrpcJs.results[0].outcome, viaGrpcJs.blockSize], [0, 1 << 20]);
});
