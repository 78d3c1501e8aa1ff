// The Meta gRPC service and a node's ClusterMember over 127.0.0.1: auth on
// every call, leases renewed by heartbeats, and a node that keeps its last
// view while meta is down and registers again when it returns.
import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isCachalotError } from '../../src/errors';
import { ClusterMember } from '../../src/meta/cluster-member';
import { createMetaClient } from '../../src/meta/meta-client';
import { metaService } from '../../src/meta/meta-proto';
import type { MetaServer } from '../../src/meta/meta-server';
import { silentLogger } from '../../src/obs/logger';
import { freePort, waitFor } from '../support/e2e-helpers';
import { capturingLogger, META_TOKEN as TOKEN, metaFixture } from '../support/meta-fixture';

const LEASE_MS = 600;
const metas = metaFixture();

after(() => metas.stopAll());

function startMeta(listen?: string, dataDir?: string): Promise<MetaServer> {
  return metas.start({ listen, dataDir, leaseMs: LEASE_MS });
}

const FIGURES = { usedBytes: 4096, hits: 7, misses: 3, pinnedBytes: 512, peerBlocks: 5, peerFailures: 1, servedBlocks: 9, s3GetBytes: 8192, listingsFromMeta: 6, listingsFromS3: 2, suspects: ['n7', 'n9'] };
const report = async () => FIGURES;

test('register, heartbeat, members and leave through the client', async () => {
  const meta = await startMeta();
  const client = createMetaClient(meta.address, TOKEN);
  try {
    const lease = await client.register({ nodeId: 'n1', peerAddress: '127.0.0.1:7001', capacityBytes: 1 << 30 }, 2000);
    assert.deepEqual(lease, { leaseTtlMs: LEASE_MS, epoch: 2 });
    assert.deepEqual(await client.heartbeat({ nodeId: 'n1', ...FIGURES }, 2000), { epoch: 2, unknown: false });
    assert.deepEqual(await client.heartbeat({ nodeId: 'stranger', ...FIGURES }, 2000), { epoch: 2, unknown: true });
    const view = await client.members(2000);
    assert.equal(view.epoch, 2);
    assert.equal(view.members.length, 1);
    const { leaseAgeMs, ...member } = view.members[0];
    assert.ok(leaseAgeMs >= 0 && leaseAgeMs < LEASE_MS, `lease age ${leaseAgeMs}`);
    assert.deepEqual(member, { id: 'n1', address: '127.0.0.1:7001', state: 'alive', capacityBytes: 1 << 30, ...FIGURES });
    assert.equal(await client.leave('n1', 2000), 3);
    assert.deepEqual((await client.members(2000)).members, []);
    await assert.rejects(client.register({ nodeId: '', peerAddress: '', capacityBytes: 0 }, 2000), /node_id is empty/);
  } finally {
    client.close();
  }
});

test('a call with a wrong token, or none, is refused with one line', async () => {
  const meta = await startMeta();
  const wrong = createMetaClient(meta.address, 'not-the-token');
  try {
    await assert.rejects(wrong.members(2000), (err) => isCachalotError(err, 'Unauthenticated') && /wrong cluster token/.test(err.message) && !err.message.includes('\n'));
    await assert.rejects(wrong.register({ nodeId: 'n', peerAddress: '', capacityBytes: 0 }, 2000), (err) => isCachalotError(err, 'Unauthenticated'));
  } finally {
    wrong.close();
  }
  // A plain client, without the token interceptor.
  const Meta = metaService();
  const bare = new Meta(meta.address, credentials.createInsecure());
  try {
    const refused = await new Promise<{ code?: number; details?: string }>((resolve) => bare.Members({}, { deadline: Date.now() + 2000 }, (err: never) => resolve(err)));
    assert.equal(refused.code, 16, 'UNAUTHENTICATED');
    assert.match(refused.details ?? '', /no cluster token/);
  } finally {
    bare.close();
  }
  const members = createMetaClient(meta.address, TOKEN);
  assert.deepEqual((await members.members(2000)).members, [], 'refused calls changed nothing');
  members.close();
});

test('Origin: the endpoint and region meta lists with; a meta older than the call answers none, not an error', async () => {
  const meta = await metas.start({ origin: { endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1' } });
  const client = createMetaClient(meta.address, TOKEN);
  try {
    assert.deepEqual(await client.origin(2000), { endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1' });
  } finally {
    client.close();
  }
  const atAws = await metas.start();
  const aws = createMetaClient(atAws.address, TOKEN);
  try {
    assert.deepEqual(await aws.origin(2000), { endpoint: undefined, region: 'us-east-1' }, "AWS's endpoint: none");
  } finally {
    aws.close();
  }
  // The service without an Origin handler, as a meta of an earlier release serves it: UNIMPLEMENTED.
  const older = new Server();
  older.addService(metaService().service, {});
  const port = await new Promise<number>((resolve, reject) => older.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))));
  const olderClient = createMetaClient(`127.0.0.1:${port}`, TOKEN);
  try {
    assert.equal(await olderClient.origin(2000), undefined);
    await assert.rejects(olderClient.members(2000), (err) => isCachalotError(err, 'ServerError'), 'other failures stay errors');
  } finally {
    olderClient.close();
    older.forceShutdown();
  }
});

test('an unreachable meta is a one-line EndpointUnreachable error, in bounded time', async () => {
  const client = createMetaClient(`127.0.0.1:${await freePort()}`, TOKEN);
  const started = Date.now();
  try {
    await assert.rejects(client.members(2000), (err) => isCachalotError(err) && ['EndpointUnreachable', 'Timeout'].includes(err.code) && !err.message.includes('\n'));
    assert.ok(Date.now() - started < 2500);
  } finally {
    client.close();
  }
});

test('ClusterMember: a wrong token makes join() reject', async () => {
  const meta = await startMeta();
  const member = new ClusterMember({ client: createMetaClient(meta.address, 'wrong'), node: { nodeId: 'n', peerAddress: '', capacityBytes: 1 }, report, log: silentLogger });
  await assert.rejects(member.join(), (err) => isCachalotError(err, 'Unauthenticated'));
});

test('ClusterMember: heartbeats keep it a member; meta down: last view kept, said once; meta back: registered again at a higher epoch', async () => {
  const dataDir = join(metas.work, 'restarted');
  let meta = await startMeta('127.0.0.1:0', dataDir);
  const address = meta.address;
  const { log, lines } = capturingLogger();
  const member = new ClusterMember({ client: createMetaClient(address, TOKEN), node: { nodeId: 'node-a', peerAddress: '127.0.0.1:7001', capacityBytes: 100 }, report, log });
  const watcher = createMetaClient(address, TOKEN);
  try {
    await member.join();
    assert.deepEqual(member.status().members.map((m) => m.id), ['node-a']);
    // Several leases pass: heartbeats keep the member.
    const joinedEpoch = member.status().epoch;
    await new Promise((r) => setTimeout(r, 3 * LEASE_MS));
    const view = await watcher.members(2000);
    assert.deepEqual(view.members.map((m) => [m.id, m.hits, m.misses]), [['node-a', 7, 3]], 'still a member, figures from heartbeats');
    assert.equal(view.epoch, joinedEpoch, 'no change, no new epoch');

    await meta.stop();
    assert.ok(await waitFor(() => !member.status().metaReachable, 5000), 'notices that meta is gone');
    await new Promise((r) => setTimeout(r, 3 * LEASE_MS));
    assert.deepEqual(member.status().members.map((m) => m.id), ['node-a'], 'keeps the last view');
    assert.equal(lines.filter((l) => /meta cannot be used/.test(l.msg)).length, 1, `said once: ${JSON.stringify(lines.map((l) => l.msg))}`);

    meta = await startMeta(address, dataDir);
    const back = await waitFor(async () => (await watcher.members(1000).catch(() => undefined))?.members.length === 1, 5000);
    assert.ok(back, 'registered again with the restarted meta');
    assert.ok(await waitFor(() => member.status().metaReachable && member.status().epoch > joinedEpoch, 3000), `view epoch ${member.status().epoch} > ${joinedEpoch}`);
    assert.ok(lines.some((l) => /registering again/.test(l.msg)));

    await member.leave();
    assert.deepEqual((await watcher.members(2000)).members, [], 'left at once, without waiting for the lease');
  } finally {
    await member.leave();
    watcher.close();
  }
});

test('ClusterMember: meta unreachable at join: join() resolves, and the node registers once meta appears', async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  const member = new ClusterMember({ client: createMetaClient(listen, TOKEN), node: { nodeId: 'late-joiner', peerAddress: '', capacityBytes: 1 }, report, log: silentLogger, retryMs: 200 });
  try {
    await member.join();
    assert.equal(member.status().metaReachable, false);
    await startMeta(listen);
    assert.ok(await waitFor(() => member.status().members.length === 1, 5000), 'registered once meta answered');
  } finally {
    await member.leave();
  }
});
