// A cluster with mutual TLS, with real processes on 127.0.0.1 and
// certificates made by openssl for the test: `cachalot meta` and two mounts
// with --tls-cert/--tls-key/--tls-ca; a node reads blocks from its peer over
// TLS, bytes equal to S3's; `cachalot status` with the TLS flags lists both
// nodes, and without them, or with a certificate of another CA, is refused
// with one line; a mount whose CA does not trust meta's certificate fails
// and leaves nothing behind.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TlsFiles } from '../../src/rpc/types';
import type { ClusterStatus } from '../../src/meta/cluster-status';
import { assertSameBytes, childExit, freePort, metricsText, MiB, mountAt, patternBytes, processesMentioning, putObject, seriesValue, waitFor } from '../support/e2e-helpers';
import { assertOneLineError, CACHALOT, cleanUpDaemons, CliResult, mountForeground, runCli } from '../support/mount-fixture';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { makeTlsFixture, tlsArgs, type TlsFixture } from '../support/tls-fixture';

const BUCKET = 'cluster-tls';
// 9 blocks of 1 MiB, owned across the two nodes.
const OBJECTS = new Map<string, Buffer>([
  ['data/a.bin', patternBytes(5 * MiB + 3, 41)],
  ['data/b.bin', patternBytes(3 * MiB, 42)],
]);

let s3: S3Fixture;
let work: string;
let fx: TlsFixture;
/** What meta, the nodes and status use: the node certificate and the cluster CA. */
let mutual: TlsFiles;
let tokenFile: string;
let metaPort: number;
let metricsPort: number;
const children: ChildProcess[] = [];
const mountpoints: string[] = [];

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  for (const [key, bytes] of OBJECTS) await putObject(s3, BUCKET, key, bytes);
  work = mkdtempSync(join(tmpdir(), 'cachalot-cluster-tls-'));
  fx = makeTlsFixture(work);
  mutual = { ...fx.node, ca: fx.ca };
  tokenFile = join(work, 'token');
  writeFileSync(tokenFile, 'e2e-tls-secret-0123456789\n', { mode: 0o600 });
  metaPort = await freePort();
  metricsPort = await freePort();
});

after(async () => {
  await cleanUpDaemons(children, mountpoints);
  await s3?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function newMountpoint(name: string): string {
  const mountpoint = join(work, name);
  mkdirSync(mountpoint);
  mountpoints.push(mountpoint);
  return mountpoint;
}

/** Runs `cachalot status` against the test's meta with the given TLS files. */
function status(tls: TlsFiles, args: string[] = []): Promise<CliResult> {
  return runCli(['status', '--meta', `127.0.0.1:${metaPort}`, '--token-file', tokenFile, ...tlsArgs(tls), ...args], s3.env, 15_000);
}

describe('a cluster with mutual TLS (meta, two mounts, status)', { timeout: 120_000 }, () => {
  test('meta serves mutual TLS; two nodes join it and serve each other blocks over TLS, bytes equal to S3', async () => {
    const meta = spawn(CACHALOT, ['meta', '--listen', `127.0.0.1:${metaPort}`, '--data-dir', join(work, 'meta-data'), '--token-file', tokenFile, ...tlsArgs(mutual), '--log-level', 'warn'], {
      env: s3.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(meta);
    let output = '';
    meta.stdout!.on('data', (d) => (output += d));
    meta.stderr!.on('data', (d) => (output += d));
    assert.ok(await waitFor(() => meta.exitCode !== null || /meta listening on .*\)\n/.test(output), 15_000));
    assert.match(output, new RegExp(`^cachalot: meta listening on 127\\.0\\.0\\.1:${metaPort} \\(epoch \\d+, lease \\d+ ms, mutual TLS\\)\\n$`), 'one line, saying mutual TLS');

    const nodes: Array<{ mountpoint: string; child: ChildProcess }> = [];
    for (const index of [0, 1]) {
      const mountpoint = newMountpoint(`mnt-${index}`);
      const child = await mountForeground(`s3://${BUCKET}`, mountpoint, s3.env, [
        ...['--cache-dir', join(work, `cache-${index}`), '--ram-cache', '64MiB', '--disk-cache', '64MiB', '--block-size', '1MiB'],
        ...(index === 0 ? ['--metrics', `127.0.0.1:${metricsPort}`] : []),
        ...['--meta', `127.0.0.1:${metaPort}`, '--node-id', `tls-node-${index}`, '--peer-listen', `127.0.0.1:${await freePort()}`, '--token-file', tokenFile, ...tlsArgs(mutual)],
      ]);
      children.push(child);
      nodes.push({ mountpoint, child });
    }

    const listed = await status(mutual, ['--json']);
    assert.equal(listed.code, 0, `status over mutual TLS: ${listed.stderr}`);
    assert.equal(listed.stderr, '', 'nothing on stderr');
    assert.deepEqual((JSON.parse(listed.stdout) as ClusterStatus).members.map((m) => m.id), ['tls-node-0', 'tls-node-1']);
    const human = await status(mutual);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /epoch \d+, 2 members \(2 alive\)/);

    // node-0 learns of node-1 from its heartbeats; then its reads of node-1's blocks go to node-1, over TLS.
    const viewOf = async (mountpoint: string) => JSON.parse((await runCli(['stats', mountpoint, '--json'], s3.env)).stdout).cluster?.members.length;
    assert.ok(await waitFor(async () => (await viewOf(nodes[0].mountpoint)) === 2, 5000), 'node-0 sees both');
    for (const [key, expected] of OBJECTS) assertSameBytes(await readFile(join(nodes[0].mountpoint, key)), expected, `node-0 ${key}`);
    const metrics = await metricsText(metricsPort);
    const fromPeer = seriesValue(metrics, 'cachalot_peer_blocks_total{outcome="peer"}') ?? 0;
    const peerFailed = seriesValue(metrics, 'cachalot_peer_blocks_total{outcome="peer-failed"}') ?? 0;
    assert.ok(fromPeer > 0, `node-0 got blocks from its peer (${fromPeer})`);
    assert.equal(peerFailed, 0, 'no peer call failed');
    for (const [key, expected] of OBJECTS) assertSameBytes(await readFile(join(nodes[1].mountpoint, key)), expected, `node-1 ${key}`);
  });

  test('status in plain TCP, or with a certificate another CA signed, is refused with one line', async () => {
    assertOneLineError(await status({}), /meta 127\.0\.0\.1:\d+ unreachable: it closed the connection during setup/, 1);
    assertOneLineError(await status({ ...fx.stranger, ca: fx.ca }), /meta 127\.0\.0\.1:\d+ (unreachable|: TLS handshake failed)/, 1);
    assertOneLineError(await status({ ca: fx.ca }), /TLS handshake failed: .*certificate required/, 1);
  });

  test("a mount whose CA does not trust meta's certificate fails with one line and leaves nothing behind", async () => {
    const mountpoint = newMountpoint('mnt-untrusting');
    const result = await runCli(
      ['mount', `s3://${BUCKET}`, mountpoint, '--cache-dir', join(work, 'cache-untrusting'), '--meta', `127.0.0.1:${metaPort}`, '--token-file', tokenFile, ...tlsArgs({ ...fx.node, ca: fx.otherCa })],
      s3.env,
    );
    assertOneLineError(result, /meta 127\.0\.0\.1:\d+: TLS handshake failed: self-signed certificate in certificate chain/, 1);
    assert.equal(mountAt(mountpoint), undefined, 'nothing mounted');
    assert.ok(await waitFor(() => processesMentioning(mountpoint).length === 0, 5000), 'no daemon left');
  });

  test('the nodes and meta stop cleanly', async () => {
    for (const child of children.splice(0).reverse()) {
      const exited = childExit(child, 15_000);
      child.kill('SIGTERM');
      assert.deepEqual(await exited, { code: 0, signal: null });
    }
  });
});
