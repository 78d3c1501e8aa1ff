// Changes made through one node reaching the others, over real gRPC on
// 127.0.0.1 against a real meta: ListingChanged drops meta's listing, every
// other watching node hears of it well within a second, a watch survives a
// restart of meta, the token is required, the announcer batches and never
// fails its caller, and a meta older than the calls costs one log line.
import { credentials, Server, ServerCredentials, type ClientReadableStream, type StatusObject } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { isCachalotError } from '../../src/errors';
import { listingAnnouncer } from '../../src/meta/listing-announcer';
import { watchListingChanges } from '../../src/meta/listing-watch';
import { createMetaClient, type MetaClient } from '../../src/meta/meta-client';
import { metaService } from '../../src/meta/meta-proto';
import type { ListingChangedRequest } from '../../src/meta/types';
import { MemoryStore } from '../../src/object/memory-store';
import type { Logger } from '../../src/obs/logger';
import { silentLogger } from '../../src/obs/logger';
import { freePort, waitFor } from '../support/e2e-helpers';
import { capturingLogger, META_TOKEN as TOKEN, metaFixture } from '../support/meta-fixture';

const BUCKET = 'bucket';
const metas = metaFixture();
const cleanups: Array<() => unknown> = [];

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await metas.stopAll();
});

/** A node watching meta: the folders it was told of (with when), and its resyncs. */
function watching(address: string, nodeId: string, options: { bucket?: string; log?: Logger } = {}) {
  const client = createMetaClient(address, TOKEN);
  const told: Array<{ folder: string; at: number }> = [];
  const state = { told, resyncs: 0, folders: () => told.map((t) => t.folder) };
  const watch = watchListingChanges(client, nodeId, options.bucket ?? BUCKET, (folder) => told.push({ folder, at: performance.now() }), () => state.resyncs++, options.log ?? silentLogger);
  cleanups.push(() => {
    watch.stop();
    client.close();
  });
  return state;
}

/** A client whose ListingChanged calls the test counts. */
function counting(client: MetaClient) {
  const calls: ListingChangedRequest[] = [];
  return { calls, client: { address: client.address, listingChanged: (request: ListingChangedRequest, timeoutMs: number) => (calls.push(request), client.listingChanged(request, timeoutMs)) } };
}

function client(address: string, token = TOKEN): MetaClient {
  const made = createMetaClient(address, token);
  cleanups.push(() => made.close());
  return made;
}

const firstPage = (prefix: string) => ({ bucket: BUCKET, prefix, delimiter: '/', continuationToken: '', maxKeys: 0, maxAgeMs: 60_000 });

test('ListingChanged: meta drops its listings of those folders at once, and the next List lists S3', async () => {
  const s3 = new MemoryStore(BUCKET);
  for (const key of ['d/a', 'e/b', 'top']) s3.put(key, key);
  const meta = await metas.start({ store: s3 });
  const node = client(meta.address);
  const list = async (prefix: string) => (await node.list(firstPage(prefix), 2000)).objects.map((o) => o.key);
  await Promise.all([list('d/'), list('e/'), list('')]);
  assert.equal(s3.calls.list, 3);
  await list('d/');
  assert.equal(s3.calls.list, 3, 'within the TTL: from meta\'s cache');

  s3.put('d/new', 'new');
  await node.listingChanged({ nodeId: 'a', bucket: BUCKET, folders: ['d/', ''] }, 2000);
  assert.deepEqual(await list('d/'), ['d/a', 'd/new'], 'the new object is listed at once');
  assert.equal(s3.calls.list, 4, 'd/ listed from S3 again');
  await list('');
  assert.equal(s3.calls.list, 5, 'and the root');
  await list('e/');
  assert.equal(s3.calls.list, 5, 'other folders kept');

  await assert.rejects(node.listingChanged({ nodeId: 'a', bucket: BUCKET, folders: ['d'] }, 2000), /"d" is not a folder prefix/);
  await assert.rejects(node.listingChanged({ nodeId: '', bucket: BUCKET, folders: [] }, 2000), /node_id is empty/);
  await assert.rejects(node.listingChanged({ nodeId: 'a', bucket: 'Not_A_Bucket', folders: [] }, 2000), /invalid bucket name/);
});

test('two nodes hear of a change a third announces within a second; the announcer and nodes of another bucket do not', async (t) => {
  const meta = await metas.start();
  const b = watching(meta.address, 'b');
  const c = watching(meta.address, 'c');
  const a = watching(meta.address, 'a');
  const elsewhere = watching(meta.address, 'd', { bucket: 'other-bucket' });
  const announcer = listingAnnouncer(client(meta.address), 'a', BUCKET, silentLogger);
  cleanups.push(() => announcer.close());
  assert.ok(await waitFor(() => [a, b, c, elsewhere].every((w) => w.resyncs === 1), 5000), 'every watch open: its first message is a resync');

  const latencies: number[] = [];
  for (let i = 0; i < 10; i++) {
    const folder = `round-${i}/`;
    const started = performance.now();
    announcer.announce(folder);
    const heard = (w: typeof b) => w.told.find((told) => told.folder === folder)?.at;
    assert.ok(await waitFor(() => heard(b) && heard(c), 3000, 2), `${folder} reached both`);
    latencies.push(Math.max(heard(b)!, heard(c)!) - started);
  }
  latencies.sort((x, y) => x - y);
  t.diagnostic(`announce -> both watchers, ms: min ${latencies[0].toFixed(1)}, median ${latencies[5].toFixed(1)}, max ${latencies[9].toFixed(1)}`);
  assert.ok(latencies[9] < 1000, `max ${latencies[9]} ms`);
  await sleep(200);
  assert.deepEqual(a.folders(), [], 'not told of its own changes');
  assert.deepEqual(elsewhere.folders(), [], 'another bucket\'s node ignores them');
  assert.equal(b.folders().length, 10, 'each change once');
});

test('a watch opens again after meta restarts (a resync: changes may have been missed), and hears of changes made after', async () => {
  const dataDir = join(metas.work, 'restarted');
  let meta = await metas.start({ dataDir });
  const { address } = meta;
  const { log, lines } = capturingLogger();
  const b = watching(address, 'b', { log });
  assert.ok(await waitFor(() => b.resyncs === 1, 5000));
  await meta.stop();
  await sleep(1000);
  meta = await metas.start({ listen: address, dataDir });
  assert.ok(await waitFor(() => b.resyncs === 2, 5000), 'watching again');
  await client(address).listingChanged({ nodeId: 'a', bucket: BUCKET, folders: ['x/'] }, 2000);
  assert.ok(await waitFor(() => b.folders().length === 1, 2000), 'a change after the restart');
  const said = (pattern: RegExp) => lines.filter((l) => pattern.test(l.msg)).length;
  assert.deepEqual([said(/no listing changes from meta/), said(/listing changes from meta resume/)], [1, 1], JSON.stringify(lines.map((l) => l.msg)));
});

test('a watch or an announcement without the cluster token is refused, and changes nothing', async () => {
  const s3 = new MemoryStore(BUCKET);
  s3.put('d/a', 'a');
  const meta = await metas.start({ store: s3 });
  await client(meta.address).list(firstPage('d/'), 2000);
  const b = watching(meta.address, 'b');
  assert.ok(await waitFor(() => b.resyncs === 1, 5000));

  const wrong = client(meta.address, 'not-the-token');
  await assert.rejects(wrong.listingChanged({ nodeId: 'x', bucket: BUCKET, folders: ['d/'] }, 2000), (err) => isCachalotError(err, 'Unauthenticated'));
  const ended = await new Promise<Error | undefined>((resolve) => wrong.watchListings('x', () => assert.fail('a message without the token'), resolve));
  assert.ok(isCachalotError(ended, 'Unauthenticated') && /wrong cluster token/.test(ended.message), String(ended));
  // A plain client, without the token interceptor.
  const Meta = metaService();
  const bare = new Meta(meta.address, credentials.createInsecure());
  cleanups.push(() => bare.close());
  const stream = (bare as unknown as { WatchListings(r: object): ClientReadableStream<unknown> }).WatchListings({ nodeId: 'x' });
  stream.on('error', () => undefined);
  const refused = await new Promise<StatusObject>((resolve) => stream.once('status', resolve));
  assert.equal(refused.code, 16, 'UNAUTHENTICATED');
  assert.match(refused.details, /no cluster token/);

  await client(meta.address).list(firstPage('d/'), 2000);
  assert.equal(s3.calls.list, 1, 'meta kept its listing');
  await sleep(100);
  assert.deepEqual(b.folders(), [], 'no node was told');
});

test('the announcer sends a burst as one call, each folder once; close() sends what waits at once', async () => {
  const meta = await metas.start();
  const b = watching(meta.address, 'b');
  const { calls, client: node } = counting(client(meta.address));
  const announcer = listingAnnouncer(node, 'a', BUCKET, silentLogger);
  assert.ok(await waitFor(() => b.resyncs === 1, 5000));
  const burst = Array.from({ length: 200 }, (_, i) => `dir-${i % 20}/`);
  for (const folder of burst) announcer.announce(folder);
  assert.ok(await waitFor(() => b.folders().length === 20, 2000), `heard ${b.folders().length} of 20`);
  assert.deepEqual(calls.map((c) => c.folders), [[...new Set(burst)]], 'one call');
  announcer.announce('last/');
  await announcer.close();
  assert.deepEqual(calls.at(-1)?.folders, ['last/'], 'sent without waiting for the batch');
  announcer.announce('after-close/');
  await sleep(100);
  assert.equal(calls.length, 2, 'nothing after close');
});

test('with meta down the announcer returns at once, never throws, tries a batch 3 times and says so once', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const { calls, client: node } = counting(client(address));
  const { log, lines } = capturingLogger();
  const announcer = listingAnnouncer(node, 'a', BUCKET, log);
  const started = performance.now();
  for (let i = 0; i < 50; i++) announcer.announce(`d${i}/`);
  assert.ok(performance.now() - started < 50, 'announce() does not wait for meta');
  assert.ok(await waitFor(() => calls.length === 3, 5000), `${calls.length} tries`);
  await sleep(500);
  assert.equal(calls.length, 3, 'then the batch is dropped');
  announcer.announce('again/');
  assert.ok(await waitFor(() => calls.length === 6, 5000), 'the next batch is tried again');
  await announcer.close();
  assert.equal(lines.filter((l) => /could not tell meta of changed folders/.test(l.msg)).length, 1, JSON.stringify(lines.map((l) => l.msg)));
});

test('a meta older than the calls: the announcer says so once and does not retry, the watcher says so once', async () => {
  // The service without the new handlers, as a meta of an earlier release serves it: UNIMPLEMENTED.
  const older = new Server();
  older.addService(metaService().service, {});
  const port = await new Promise<number>((resolve, reject) => older.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))));
  cleanups.push(() => older.forceShutdown());
  const address = `127.0.0.1:${port}`;
  const { log, lines } = capturingLogger();
  const { calls, client: node } = counting(client(address));
  const announcer = listingAnnouncer(node, 'a', BUCKET, log);
  const watch = watchListingChanges(client(address), 'b', BUCKET, () => assert.fail('no changes'), () => assert.fail('no resync'), log);
  cleanups.push(() => watch.stop());
  announcer.announce('d/');
  assert.ok(await waitFor(() => lines.length === 2, 3000), JSON.stringify(lines.map((l) => l.msg)));
  announcer.announce('e/');
  await announcer.close();
  assert.equal(calls.length, 2, 'one try per batch');
  assert.deepEqual(lines.map((l) => l.msg).sort(), [
    'meta does not send listing changes (a meta older than this node): changes made through other nodes show after the metadata TTL',
    'meta does not take listing changes (a meta older than this node): other nodes see changes made here after their metadata TTL',
  ]);
});
