// Cluster membership and peer block sharing with real processes on
// 127.0.0.1: `cachalot meta`, three mounts that join it, `cachalot status`.
// The three nodes reading the same data fetch each block from S3 once (bytes
// counted at the origin's process), and together cache a dataset twice one
// node's disk cache; a node killed with -9 does not stall a
// read of blocks it owned, and is dropped once its lease lapses; with meta
// stopped the mounts go on serving; a restarted meta sees them again at a
// higher epoch; a wrong token is refused.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClusterStatus } from '../../src/meta/cluster-status';
import type { MountStats } from '../../src/mount/mount-stats';
import { assertSameBytes, bytesWrittenBy, childExit, freePort, metricsText, MiB, mountAt, patternBytes, processesMentioning, putObject, seriesValue, waitFor } from '../support/e2e-helpers';
import { assertOneLineError, cleanUpDaemons, CliResult, forceUnmount, mountForeground, runCli, waitForExit } from '../support/mount-fixture';
import { dropPageCache } from '../support/cache-fixture';
import { startMetaProcess } from '../support/meta-process';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';

const BUCKET = 'cluster';
/** Short, so the test is quick: heartbeats every 500 ms. */
const LEASE_MS = 1500;
const OBJECTS = new Map<string, Buffer>([
  ['train/shard-0.bin', patternBytes(3 * MiB + 17, 1)],
  ['train/shard-1.bin', patternBytes(2 * MiB, 2)],
  ['train/shard-2.bin', patternBytes(MiB - 5, 3)],
  ['labels.txt', Buffer.from('cat\ndog\n')],
]);

// Read by all three nodes: 12 blocks of 1 MiB, owned across the nodes.
const SHARED = new Map<string, Buffer>([
  ['shared/a.bin', patternBytes(5 * MiB, 11)],
  ['shared/b.bin', patternBytes(4 * MiB + 3, 12)],
  ['shared/c.bin', patternBytes(2 * MiB, 13)],
]);
// Twice one node's disk cache (8 MiB, no RAM tier) in the test of the cluster's combined cache:
// 64 blocks of 256 KiB, so that rendezvous placement gives each node about a third (18-26 here,
// placed two at a time; with 16 blocks of 1 MiB one node would own 9, more than its disk holds).
const LARGE = new Map<string, Buffer>(Array.from({ length: 4 }, (_, i) => [`large/part-${i}.bin`, patternBytes(4 * MiB, 20 + i)]));
const SMALL_CACHES = ['--ram-cache', '0', '--disk-cache', '8MiB', '--block-size', '256KiB'];
// Read once, right after a node is killed: some of its blocks are the dead node's.
const LATE = new Map<string, Buffer>([['late/d.bin', patternBytes(8 * MiB, 14)]]);
const total = (objects: Map<string, Buffer>) => [...objects.values()].reduce((sum, b) => sum + b.length, 0);

interface Node {
  id: string;
  mountpoint: string;
  child: ChildProcess;
}

let s3: S3Fixture;
let work: string;
let tokenFile: string;
let wrongTokenFile: string;
let metaPort: number;
/** node-0 serves --metrics here, for the peer counters. */
let node0Metrics: number;
let meta: ChildProcess | undefined;
const children: ChildProcess[] = [];
const mountpoints: string[] = [];
const nodes: Node[] = [];

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  for (const [key, bytes] of [...OBJECTS, ...SHARED, ...LATE, ...LARGE]) await putObject(s3, BUCKET, key, bytes);
  work = mkdtempSync(join(tmpdir(), 'cachalot-cluster-'));
  tokenFile = join(work, 'token');
  writeFileSync(tokenFile, 'e2e-cluster-secret-0123456789\n', { mode: 0o600 });
  wrongTokenFile = join(work, 'wrong-token');
  writeFileSync(wrongTokenFile, 'not-the-cluster-secret\n', { mode: 0o600 });
  metaPort = await freePort();
  node0Metrics = await freePort();
});

after(async () => {
  await cleanUpDaemons(children, mountpoints);
  await s3?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** `cachalot meta` on the test's fixed port and data dir, as a child the test owns. */
async function startMeta(): Promise<ChildProcess> {
  const child = await startMetaProcess(
    metaPort,
    ['--data-dir', join(work, 'meta-data'), '--token-file', tokenFile, '--lease-ms', String(LEASE_MS), '--log-level', 'warn'],
    s3.env,
  );
  children.push(child);
  return child;
}

async function startNode(index: number, caches = ['--ram-cache', '64MiB', '--disk-cache', '256MiB', '--block-size', '1MiB']): Promise<Node> {
  const id = `node-${index}`;
  const mountpoint = join(work, `mnt-${index}`);
  mkdirSync(mountpoint);
  mountpoints.push(mountpoint);
  const child = await mountForeground(`s3://${BUCKET}`, mountpoint, s3.env, [
    ...['--cache-dir', join(work, `cache-${index}`), ...caches],
    ...(index === 0 ? ['--metrics', `127.0.0.1:${node0Metrics}`] : []),
    ...['--meta', `127.0.0.1:${metaPort}`, '--node-id', id, '--peer-listen', `127.0.0.1:${await freePort()}`, '--token-file', tokenFile],
  ]);
  children.push(child);
  return { id, mountpoint, child };
}

function status(args: string[] = [], token = tokenFile): Promise<CliResult> {
  return runCli(['status', '--meta', `127.0.0.1:${metaPort}`, '--token-file', token, ...args], s3.env, 15_000);
}

async function statusJson(): Promise<ClusterStatus> {
  const result = await status(['--json']);
  assert.equal(result.code, 0, `cachalot status --json: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as ClusterStatus;
}

/** Polls status until check holds; returns the last status seen (the caller asserts on it). */
async function statusUntil(check: (s: ClusterStatus) => boolean, timeoutMs: number): Promise<ClusterStatus> {
  let last = await statusJson();
  await waitFor(async () => check((last = await statusJson())), timeoutMs, 100);
  return last;
}

async function statsOf(node: Node): Promise<MountStats> {
  const result = await runCli(['stats', node.mountpoint, '--json'], s3.env);
  assert.equal(result.code, 0, `cachalot stats ${node.mountpoint}: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as MountStats;
}

async function assertReadsMatchS3(node: Node, what: string): Promise<void> {
  assert.deepEqual((await readdir(join(node.mountpoint, 'train'))).sort(), ['shard-0.bin', 'shard-1.bin', 'shard-2.bin']);
  for (const [key, expected] of OBJECTS) assertSameBytes(await readFile(join(node.mountpoint, key)), expected, `${what}: ${node.id} ${key}`);
}

/** What S3 sent, counted at S3's side. */
const originSentBytes = async (): Promise<number> => bytesWrittenBy(s3.server.pid);

async function readAllFrom(node: Node, objects: Map<string, Buffer>, what: string): Promise<void> {
  for (const [key, expected] of objects) assertSameBytes(await readFile(join(node.mountpoint, key)), expected, `${what}: ${node.id} ${key}`);
}

// Bounded even when run alone (npm test bounds every test file too): a hung read fails the suite, and after() ends the daemons.
describe('cluster membership (meta, three mounts, status)', { timeout: 120_000 }, () => {
  let epochBeforeMetaStopped = 0;

  test('three mounts join: `cachalot status --json` lists them alive with the documented fields', async () => {
    meta = await startMeta();
    for (let i = 0; i < 3; i++) nodes.push(await startNode(i));
    // A mount returns only once registered: no waiting needed.
    const s = await statusJson();
    assert.deepEqual(s.members.map((m) => m.id), ['node-0', 'node-1', 'node-2']);
    for (const m of s.members) {
      assert.deepEqual(Object.keys(m).sort(), ['address', 'capacityBytes', 'hits', 'id', 'leaseAgeMs', 'listingsFromMeta', 'listingsFromS3', 'misses', 'peerBlocks', 'peerFailures', 'pinnedBytes', 's3GetBytes', 'servedBlocks', 'state', 'suspects', 'usedBytes']);
      assert.deepEqual(m.suspects, [], 'no peer has failed anyone');
      assert.equal(m.state, 'alive');
      assert.match(m.address, /^127\.0\.0\.1:\d+$/, 'the advertised --peer-listen');
      assert.ok(m.leaseAgeMs >= 0 && m.leaseAgeMs <= LEASE_MS, `lease age ${m.leaseAgeMs}`);
      assert.ok(m.capacityBytes >= 256 * MiB, `capacity ${m.capacityBytes}: the tiers' sum`);
      for (const n of [m.usedBytes, m.hits, m.misses, m.peerBlocks, m.peerFailures, m.servedBlocks, m.s3GetBytes, m.listingsFromMeta, m.listingsFromS3]) assert.ok(Number.isInteger(n) && n >= 0);
    }
    assert.ok(s.epoch >= 4, `one epoch per join after the start: ${s.epoch}`);
    assert.deepEqual(s.totals, {
      members: 3,
      alive: 3,
      capacityBytes: s.members.reduce((t, m) => t + m.capacityBytes, 0),
      usedBytes: s.members.reduce((t, m) => t + m.usedBytes, 0),
      hits: s.members.reduce((t, m) => t + m.hits, 0),
      misses: s.members.reduce((t, m) => t + m.misses, 0),
      pinnedBytes: s.members.reduce((t, m) => t + m.pinnedBytes, 0),
      peerBlocks: s.members.reduce((t, m) => t + m.peerBlocks, 0),
      peerFailures: s.members.reduce((t, m) => t + m.peerFailures, 0),
      servedBlocks: s.members.reduce((t, m) => t + m.servedBlocks, 0),
      s3GetBytes: s.members.reduce((t, m) => t + m.s3GetBytes, 0),
      listingsFromMeta: s.members.reduce((t, m) => t + m.listingsFromMeta, 0),
      listingsFromS3: s.members.reduce((t, m) => t + m.listingsFromS3, 0),
    });

    // Heartbeats carry each mount's cache figures.
    await assertReadsMatchS3(nodes[0], 'first read');
    const after = await statusUntil((x) => (x.members.find((m) => m.id === 'node-0')?.usedBytes ?? 0) > 0, 5000);
    const node0 = after.members.find((m) => m.id === 'node-0')!;
    assert.ok(node0.usedBytes > 0 && node0.misses > 0, `node-0 reports its cache: ${JSON.stringify(node0)}`);
    // And its sharing: the blocks others own came from them, who count them served; its own came from S3.
    const shared = await statusUntil((x) => {
      const n = x.members.find((m) => m.id === 'node-0');
      return n !== undefined && n.peerBlocks > 0 && x.totals.servedBlocks === n.peerBlocks;
    }, 5000);
    const reader = shared.members.find((m) => m.id === 'node-0')!;
    assert.ok(reader.peerBlocks > 0 && reader.s3GetBytes > 0 && reader.peerFailures === 0, `node-0's sharing: ${JSON.stringify(reader)}`);
    assert.equal(shared.totals.servedBlocks, reader.peerBlocks, `blocks served by the owners: ${JSON.stringify(shared.totals)}`);
    // Its folder listings came from meta's shared cache, with meta up.
    assert.ok(reader.listingsFromMeta > 0 && reader.listingsFromS3 === 0, `node-0's listings: ${JSON.stringify(reader)}`);

    const human = await status();
    assert.equal(human.code, 0, human.stderr);
    for (const id of ['node-0', 'node-1', 'node-2']) assert.match(human.stdout, new RegExp(`^${id}\\s+127\\.0\\.0\\.1:\\d+\\s+alive`, 'm'));
    assert.match(human.stdout, /epoch \d+, 3 members \(3 alive\)/);
    assert.match(human.stdout, /^listings: [1-9]\d* from meta's shared cache, 0 from S3$/m);
    assert.match(human.stdout, /^suspects: none$/m);
    assert.deepEqual(shared.suspects, []);

    const stats = await statsOf(nodes[1]);
    assert.equal(stats.cluster?.nodeId, 'node-1');
    assert.equal(stats.cluster?.metaReachable, true);
    assert.equal(stats.cluster?.members.length, 3, "the node's own view");
  });

  test('three nodes read the same data: each block leaves S3 once (S3 bytes <= 1.1x the data), bytes identical on every node', async (t) => {
    for (const node of nodes) assert.ok(await waitFor(async () => (await statsOf(node)).cluster?.members.length === 3, 5000), `${node.id} sees all three`);
    const before = await originSentBytes();
    await Promise.all(nodes.map((node) => readAllFrom(node, SHARED, 'shared read')));
    const sent = (await originSentBytes()) - before;
    const data = total(SHARED);
    t.diagnostic(`S3 sent ${sent} bytes for ${data} bytes read by each of 3 nodes: ${(sent / data).toFixed(3)}x`);
    assert.ok(sent <= 1.1 * data, `S3 sent ${sent} bytes for ${data} bytes of data read by 3 nodes (${(sent / data).toFixed(2)}x)`);
    assert.ok(sent >= data, `S3 sent ${sent} bytes: every block at least once`);
    const fromPeers = seriesValue(await metricsText(node0Metrics), 'cachalot_peer_blocks_total{outcome="peer"}') ?? 0;
    assert.ok(fromPeers > 0, `node-0 counts blocks from peers (${fromPeers})`);
    // `cachalot stats` says the same; the data is incompressible, so it came raw, a whole block for each.
    const { peers } = await statsOf(nodes[0]);
    assert.equal(peers?.blocks.peer, fromPeers);
    assert.equal(peers?.receivedBytes.lz4, 0);
    assert.ok((peers?.receivedBytes.raw ?? 0) > 0 && (peers?.receivedBytes.raw ?? 0) <= fromPeers * MiB, `raw bytes from peers: ${peers?.receivedBytes.raw}`);
    const served = await Promise.all(nodes.map(async (node) => (await statsOf(node)).peers?.served.ok ?? 0));
    assert.ok(served.reduce((a, b) => a + b, 0) >= fromPeers, `blocks served by the nodes (${served}) cover node-0's ${fromPeers}`);
  });

  test('kill -9 of a node: it is dropped once its lease lapses, and the epoch goes up', async () => {
    const before = await statusJson();
    const victim = nodes.pop()!;
    const exited = childExit(victim.child, 10_000);
    victim.child.kill('SIGKILL');
    await exited;
    await forceUnmount(victim.mountpoint);
    const killedAt = Date.now();
    // Blocks the dead node owned are read at once, before the lease lapses: the peer fails fast and S3 serves them.
    await readAllFrom(nodes[0], LATE, 'read right after the kill');
    const readTook = Date.now() - killedAt;
    assert.ok(readTook < LEASE_MS, `the read did not wait for the lease (${readTook} ms)`);
    const failed = seriesValue(await metricsText(node0Metrics), 'cachalot_peer_blocks_total{outcome="peer-failed"}') ?? 0;
    assert.ok(failed >= 1, `node-0 counts the dead peer's failure (${failed})`);
    // It passes the dead peer over, and says so: in its stats at once, in status with its next heartbeat.
    const suspects = (await statsOf(nodes[0])).peers?.suspects ?? [];
    assert.deepEqual(suspects.map((s) => s.id), [victim.id], `node-0's suspects: ${JSON.stringify(suspects)}`);
    assert.ok(suspects[0].msLeft > 0 && suspects[0].msLeft <= 30_000, `passed over for ${suspects[0].msLeft} ms more`);
    const seen = await statusUntil((x) => x.suspects.some((s) => s.id === victim.id && s.by.includes('node-0')), 5000);
    assert.deepEqual(seen.members.find((m) => m.id === 'node-0')?.suspects, [victim.id]);
    assert.match((await status()).stdout, new RegExp(`^suspects: ${victim.id} \\(passed over by node-0\\)$`, 'm'));
    const s = await statusUntil((x) => !x.members.some((m) => m.id === victim.id), LEASE_MS + 5000);
    const took = Date.now() - killedAt;
    assert.deepEqual(s.members.map((m) => m.id), ['node-0', 'node-1'], `${victim.id} dropped (after ${took} ms)`);
    assert.ok(took >= LEASE_MS / 2, `not before its lease could lapse (${took} ms)`);
    assert.ok(s.epoch > before.epoch, `epoch ${before.epoch} -> ${s.epoch}`);
    // The surviving nodes learn the new view from their heartbeats.
    assert.ok(await waitFor(async () => (await statsOf(nodes[0])).cluster?.members.length === 2, 5000), "node-0's view drops the dead node");
  });

  test('meta stopped: reads through the mounts go on, bytes equal to S3; each node keeps its last view', async () => {
    epochBeforeMetaStopped = (await statusJson()).epoch;
    const exited = childExit(meta!, 10_000);
    meta!.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null }, 'meta exits 0 on SIGTERM');
    meta = undefined;

    for (const node of nodes) await assertReadsMatchS3(node, 'meta down');
    for (const node of nodes) {
      const reachable = await waitFor(async () => (await statsOf(node)).cluster?.metaReachable === false, 5000);
      assert.ok(reachable, `${node.id} notices that meta is gone`);
      const view = (await statsOf(node)).cluster!;
      assert.deepEqual(view.members.map((m) => m.id), ['node-0', 'node-1'], 'the last view is kept');
      assert.equal(view.epoch, epochBeforeMetaStopped);
    }
    assertOneLineError(await status(), /unreachable/, 1);
  });

  test('meta restarted on the same address and data dir: the nodes register again within a few heartbeats, at a higher epoch', async () => {
    meta = await startMeta();
    const restartedAt = Date.now();
    const s = await statusUntil((x) => x.members.length === 2, 5000);
    const took = Date.now() - restartedAt;
    assert.deepEqual(s.members.map((m) => m.id), ['node-0', 'node-1'], `both back (after ${took} ms)`);
    assert.ok(s.epoch > epochBeforeMetaStopped, `epoch ${epochBeforeMetaStopped} before the restart, ${s.epoch} after`);
    for (const node of nodes) {
      assert.ok(await waitFor(async () => (await statsOf(node)).cluster?.metaReachable === true, 5000), `${node.id} sees meta again`);
      await assertReadsMatchS3(node, 'meta back');
    }
  });

  test('a wrong token: status and a mount are refused with one line; the mount leaves nothing behind', async () => {
    assertOneLineError(await status(['--json'], wrongTokenFile), /refused.*wrong cluster token/, 1);
    const mp = join(work, 'mnt-wrong-token');
    mkdirSync(mp);
    mountpoints.push(mp);
    const result = await runCli(
      ['mount', `s3://${BUCKET}`, mp, '--cache-dir', join(work, 'cache-wrong'), '--meta', `127.0.0.1:${metaPort}`, '--token-file', wrongTokenFile],
      s3.env,
    );
    assertOneLineError(result, /refused.*wrong cluster token/, 1);
    assert.equal(mountAt(mp), undefined, 'nothing mounted');
    assert.ok(await waitFor(() => processesMentioning(mp).length === 0, 5000), 'no daemon left');
    assert.deepEqual((await statusJson()).members.map((m) => m.id), ['node-0', 'node-1'], 'not a member');
  });

  test('a clean stop leaves the cluster at once, without waiting for the lease', async () => {
    const before = await statusJson();
    const leaving = nodes.pop()!;
    const exited = childExit(leaving.child, 15_000);
    leaving.child.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null });
    const s = await statusJson();
    assert.deepEqual(s.members.map((m) => m.id), ['node-0']);
    assert.ok(s.epoch > before.epoch);
    // The last node and meta end cleanly too.
    const last = nodes.pop()!;
    const lastExited = childExit(last.child, 15_000);
    last.child.kill('SIGTERM');
    assert.deepEqual(await lastExited, { code: 0, signal: null });
    assert.equal(await waitForExit(last.child.pid!, 1000), true);
    const metaExited = childExit(meta!, 10_000);
    meta!.kill('SIGTERM');
    assert.deepEqual(await metaExited, { code: 0, signal: null });
  });
});

describe("the cluster's caches together: a dataset twice one node's disk cache", { timeout: 120_000 }, () => {
  test('three nodes read it twice: the second pass makes <= 10% of it in S3 GET bytes, bytes identical', async (t) => {
    const cannotDrop = dropPageCache();
    if (cannotDrop) return t.skip(cannotDrop);
    meta = await startMeta();
    for (let i = 3; i < 6; i++) nodes.push(await startNode(i, SMALL_CACHES));
    for (const node of nodes) assert.ok(await waitFor(async () => (await statsOf(node)).cluster?.members.length === 3, 5000), `${node.id} sees all three`);
    const data = total(LARGE);
    const first = await originSentBytes();
    for (const node of nodes) await readAllFrom(node, LARGE, 'first pass');
    const second = await originSentBytes();
    assert.equal(dropPageCache(), undefined);
    for (const node of nodes) await readAllFrom(node, LARGE, 'second pass');
    const sent = (await originSentBytes()) - second;
    t.diagnostic(`${data} bytes, 8 MiB of disk cache per node, 256 KiB blocks: S3 sent ${second - first} bytes in the first pass, ${sent} in the second (${((100 * sent) / data).toFixed(1)}%)`);
    assert.ok(sent <= 0.1 * data, `second pass: S3 sent ${sent} bytes for ${data} bytes of data`);
    for (const node of nodes.splice(0)) {
      const exited = childExit(node.child, 15_000);
      node.child.kill('SIGTERM');
      assert.deepEqual(await exited, { code: 0, signal: null });
    }
    const metaExited = childExit(meta!, 10_000);
    meta!.kill('SIGTERM');
    await metaExited;
  });
});
