// The shared listing cache with real processes on 127.0.0.1: `cachalot meta`
// and three mounts of one bucket, meta and nodes all reaching s3rver through
// a proxy that counts the folder listings S3 is asked for. Three nodes listing
// the same folders make one S3 listing of each; with meta stopped the nodes
// list new folders from S3 themselves, at once; once meta is back they use it
// again. A file written or deleted through one node shows in every other
// node's listing within a second, though each caches its listings for a
// minute.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MountStats } from '../../src/mount/mount-stats';
import { childExit, freePort, killChild, metricsText, putObjects, seriesValue, sleep, waitFor } from '../support/e2e-helpers';
import { FaultyProxy, startFaultyProxy } from '../support/faulty-proxy';
import { startMetaProcess } from '../support/meta-process';
import { forceUnmount, mountForeground, runCli } from '../support/mount-fixture';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';

const BUCKET = 'listing';
/** Heartbeats every 500 ms: a node sees meta back quickly. */
const LEASE_MS = 1500;
/** How long a node passes meta over after it failed (MetaListingStore). */
const SKIP_MS = 5000;
const PHOTOS = [...Array.from({ length: 40 }, (_, i) => `img-${String(i).padStart(3, '0')}.jpg`), 'cats', 'dogs'];
const OBJECTS: Array<[string, Buffer]> = [
  ['readme.txt', Buffer.from('hello\n')],
  ...PHOTOS.map((name): [string, Buffer] => [name.endsWith('.jpg') ? `photos/${name}` : `photos/${name}/a.jpg`, Buffer.from(name)]),
  ['fresh/one.bin', Buffer.from('1')],
  ['fresh/two.bin', Buffer.from('2')],
  ['later/three.bin', Buffer.from('3')],
];

interface Node {
  mountpoint: string;
  child: ChildProcess;
  metricsPort: number;
}

let s3: S3Fixture;
let proxy: FaultyProxy;
let work: string;
let tokenFile: string;
let metaPort: number;
let meta: ChildProcess | undefined;
const nodes: Node[] = [];

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  await putObjects(s3, BUCKET, OBJECTS);
  proxy = await startFaultyProxy(s3.endpoint);
  work = mkdtempSync(join(tmpdir(), 'cachalot-listing-'));
  tokenFile = join(work, 'token');
  writeFileSync(tokenFile, 'e2e-listing-secret-0123456789\n', { mode: 0o600 });
  metaPort = await freePort();
});

after(async () => {
  for (const node of nodes) await killChild(node.child);
  await killChild(meta);
  for (const node of nodes) await forceUnmount(node.mountpoint);
  await proxy?.stop();
  await s3?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function startMeta(): Promise<ChildProcess> {
  const args = ['--data-dir', join(work, 'meta-data'), '--token-file', tokenFile, '--lease-ms', String(LEASE_MS), '--endpoint', proxy.endpoint, '--log-level', 'warn'];
  return startMetaProcess(metaPort, args, s3.env);
}

async function startNode(index: number): Promise<Node> {
  const mountpoint = join(work, `mnt-${index}`);
  mkdirSync(mountpoint);
  const metricsPort = await freePort();
  const child = await mountForeground(`s3://${BUCKET}`, mountpoint, s3.env, [
    ...['--cache-dir', join(work, `cache-${index}`), '--ram-cache', '16MiB', '--block-size', '1MiB', '--disk-cache', '0', '--endpoint', proxy.endpoint],
    ...['--metrics', `127.0.0.1:${metricsPort}`, '--meta', `127.0.0.1:${metaPort}`, '--node-id', `node-${index}`, '--token-file', tokenFile],
  ]);
  const node = { mountpoint, child, metricsPort };
  nodes.push(node);
  return node;
}

/** A folder listed through each node's mount at once; each must show the names S3 holds. */
async function listOnAll(folder: string, expected: string[]): Promise<void> {
  const listed = await Promise.all(nodes.map((node) => readdir(join(node.mountpoint, folder))));
  for (const [i, names] of listed.entries()) assert.deepEqual(names.sort(), [...expected].sort(), `node-${i} lists /${folder}`);
}

const s3Listings = (prefix: string) => proxy.stats.folderListings.get(prefix) ?? 0;

async function listingsFrom(node: Node, outcome: string): Promise<number> {
  return seriesValue(await metricsText(node.metricsPort), `cachalot_listings_total{outcome="${outcome}"}`) ?? 0;
}

async function metaReachable(node: Node): Promise<boolean> {
  const result = await runCli(['stats', node.mountpoint, '--json'], s3.env);
  return (JSON.parse(result.stdout) as MountStats).cluster?.metaReachable === true;
}

describe('shared listing cache (meta, three mounts, a counting proxy before S3)', { timeout: 120_000 }, () => {
  test('three nodes list the same folders: S3 lists each once for the whole cluster, every node shows the right names', async () => {
    meta = await startMeta();
    for (let i = 0; i < 3; i++) await startNode(i);
    proxy.resetStats();
    await listOnAll('', ['readme.txt', 'photos', 'fresh', 'later']);
    await listOnAll('photos', PHOTOS);
    assert.equal(s3Listings(''), 1, 'the root: one S3 listing for three nodes');
    assert.equal(s3Listings('photos/'), 1, 'photos/: one S3 listing for three nodes');
    for (const node of nodes) assert.ok((await listingsFrom(node, 'meta')) >= 2, 'each node counts its listings from meta');
  });

  test('meta stopped: the nodes list a new folder from S3 themselves, at once', async () => {
    const exited = childExit(meta!, 10_000);
    meta!.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null });
    meta = undefined;
    const started = Date.now();
    await listOnAll('fresh', ['one.bin', 'two.bin']);
    const took = Date.now() - started;
    assert.ok(took < 3000, `no wait for a dead meta (${took} ms)`);
    assert.equal(s3Listings('fresh/'), 3, 'each node listed S3 itself');
    for (const node of nodes) assert.equal(await listingsFrom(node, 'meta-failed'), 1, 'each node counts the listing meta failed');
  });

  test('meta back: once it answers again (and the pause after its failure is over), the nodes list through it again', async () => {
    const failedAt = Date.now();
    meta = await startMeta();
    for (const node of nodes) assert.ok(await waitFor(() => metaReachable(node), 5000, 100), 'the node sees meta again');
    await sleep(Math.max(0, SKIP_MS - (Date.now() - failedAt)));
    await listOnAll('later', ['three.bin']);
    assert.equal(s3Listings('later/'), 1, 'later/: one S3 listing for three nodes');
  });

  test('a file written through one node is listed by the others within a second, and its deletion too', async () => {
    await listOnAll('photos', PHOTOS);
    const writtenAt = Date.now();
    await writeFile(join(nodes[0]!.mountpoint, 'photos', 'new.jpg'), 'new');
    const seen = await waitFor(async () => {
      const listed = await Promise.all(nodes.slice(1).map((node) => readdir(join(node.mountpoint, 'photos'))));
      return listed.every((names) => names.includes('new.jpg'));
    }, 5000, 20);
    const tookMs = Date.now() - writtenAt;
    assert.ok(seen && tookMs < 1000, `every node lists the new file within a second (${tookMs} ms after its close)`);
    for (const node of nodes.slice(1)) assert.equal(await readFile(join(node.mountpoint, 'photos', 'new.jpg'), 'utf8'), 'new', 'and reads it byte-identical');
    await unlink(join(nodes[1]!.mountpoint, 'photos', 'new.jpg'));
    const deletedAt = Date.now();
    const gone = await waitFor(async () => {
      const listed = await Promise.all([nodes[0]!, nodes[2]!].map((node) => readdir(join(node.mountpoint, 'photos'))));
      return listed.every((names) => !names.includes('new.jpg'));
    }, 5000, 20);
    assert.ok(gone && Date.now() - deletedAt < 1000, `and its deletion (${Date.now() - deletedAt} ms)`);
  });
});
