// `cachalot warmup --meta` with real processes on 127.0.0.1: meta and three
// mounts. A warm-up of a prefix makes S3 send 1.0-1.1x its bytes (counted at
// the origin's process), each block loaded by its owner; then every node
// reads it all with no GET of its own, bytes identical; a second warm-up
// skips every block; a missing object among the targets is reported and the
// rest load; a warm-up stopped by SIGINT and run again completes with S3
// still at <= 1.1x. Meta is given the S3 endpoint as a flag, and the
// commands take it from meta when neither a flag nor the environment gives one.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClusterStatus } from '../../src/meta/cluster-status';
import type { WarmupReport } from '../../src/warmup/tally';
import { statsOf } from '../support/cache-fixture';
import { assertSameBytes, bytesWrittenBy, childExit, freePort, MiB, patternBytes, putObjects, waitFor } from '../support/e2e-helpers';
import { startMetaProcess } from '../support/meta-process';
import { CACHALOT, cleanUpDaemons, mountForeground, runCli, type CliResult } from '../support/mount-fixture';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';

const BUCKET = 'warmcluster';
// 16 blocks of 1 MiB over three nodes.
const DATASET = new Map<string, Buffer>([
  ['train/a.bin', patternBytes(6 * MiB, 1)],
  ['train/b.bin', patternBytes(5 * MiB + 333, 2)],
  ['train/c/d.bin', patternBytes(4 * MiB, 3)],
]);
// Large enough that a warm-up at --parallel 1 is still running when SIGINT comes.
const LARGE = new Map<string, Buffer>(Array.from({ length: 6 }, (_, i) => [`large/part-${i}.bin`, patternBytes(8 * MiB, 10 + i)] as [string, Buffer]));
const size = (objects: Map<string, Buffer>) => [...objects.values()].reduce((sum, b) => sum + b.length, 0);

let s3: S3Fixture;
let work: string;
let tokenFile: string;
let metaPort: number;
const children: ChildProcess[] = [];
const mountpoints: string[] = [];

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  await putObjects(s3, BUCKET, [...DATASET, ...LARGE]);
  work = mkdtempSync(join(tmpdir(), 'cachalot-warm-cluster-'));
  tokenFile = join(work, 'token');
  writeFileSync(tokenFile, 'e2e-warmup-secret-0123456789\n', { mode: 0o600 });
  metaPort = await freePort();
});

after(async () => {
  await cleanUpDaemons(children, mountpoints);
  await s3?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** What S3 sent, counted at S3's side. */
const originSentBytes = async (): Promise<number> => bytesWrittenBy(s3.server.pid);

function warmupArgs(extra: string[]): string[] {
  return ['warmup', '--meta', `127.0.0.1:${metaPort}`, '--token-file', tokenFile, '--json', ...extra];
}

function warmup(extra: string[]): Promise<CliResult> {
  return runCli(warmupArgs(extra), s3.env);
}

/** s3.env without an S3 endpoint or region: only meta knows where S3 is. */
function envWithoutOrigin(): NodeJS.ProcessEnv {
  const env = { ...s3.env };
  for (const name of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_DEFAULT_REGION']) delete env[name];
  return env;
}

const reportOf = (result: CliResult) => JSON.parse(result.stdout) as WarmupReport;

describe('cluster warm-up (meta, three mounts)', { timeout: 150_000 }, () => {
  test('a prefix warmed once: S3 sends 1.0-1.1x its bytes; every node then reads it all with no GET, bytes identical; a missing object is reported; a rerun skips everything', async (t) => {
    const metaArgs = ['--data-dir', join(work, 'meta'), '--token-file', tokenFile, '--lease-ms', '3000', '--log-level', 'warn', '--endpoint', s3.endpoint];
    children.push(await startMetaProcess(metaPort, metaArgs, envWithoutOrigin()));
    for (let i = 0; i < 3; i++) {
      const mountpoint = join(work, `mnt-${i}`);
      mkdirSync(mountpoint);
      mountpoints.push(mountpoint);
      children.push(
        await mountForeground(`s3://${BUCKET}`, mountpoint, s3.env, [
          ...['--cache-dir', join(work, `cache-${i}`), '--ram-cache', '64MiB', '--disk-cache', '256MiB', '--block-size', '1MiB'],
          ...['--meta', `127.0.0.1:${metaPort}`, '--node-id', `node-${i}`, '--peer-listen', `127.0.0.1:${await freePort()}`, '--token-file', tokenFile],
        ]),
      );
    }
    for (const mp of mountpoints) assert.ok(await waitFor(async () => (await statsOf(mp, s3.env)).cluster?.members.length === 3, 10_000), `${mp} sees all three`);

    const before = await originSentBytes();
    const result = await warmup([`s3://${BUCKET}/train/`, `s3://${BUCKET}/train/missing.bin`]);
    const sent = (await originSentBytes()) - before;
    assert.equal(result.code, 1, `exit 1: one target failed (${result.stderr.trim()})`);
    const report = reportOf(result);
    assert.deepEqual([report.objects, report.bytes, report.blocksLoaded, report.blocksSkipped], [3, size(DATASET), 16, 0]);
    assert.deepEqual(report.failed.map((f) => f.name), [`s3://${BUCKET}/train/missing.bin`]);
    t.diagnostic(`S3 sent ${sent} bytes for a warm-up of ${size(DATASET)} bytes: ${(sent / size(DATASET)).toFixed(3)}x`);
    assert.ok(sent >= size(DATASET) && sent <= 1.1 * size(DATASET), `S3 sent ${sent} bytes for ${size(DATASET)}`);
    // Each node loaded its own share.
    const loadedBy = await Promise.all(mountpoints.map(async (mp) => (await statsOf(mp, s3.env)).s3));
    const fetched = loadedBy.map((s) => s.getBytes);
    assert.equal(fetched.reduce((a, b) => a + b, 0), size(DATASET), `each block fetched once over the nodes: ${fetched}`);
    assert.ok(fetched.filter((n) => n > 0).length >= 2, `the work is shared: ${fetched}`);

    const readBefore = await originSentBytes();
    await Promise.all(
      mountpoints.map(async (mp) => {
        for (const [key, bytes] of DATASET) assertSameBytes(await readFile(join(mp, key)), bytes, `${mp} ${key}`);
      }),
    );
    const gets = await Promise.all(mountpoints.map(async (mp) => (await statsOf(mp, s3.env)).s3.getRequests));
    assert.deepEqual(gets, loadedBy.map((s) => s.getRequests), 'no node made a GET to read the warmed data');
    assert.ok((await originSentBytes()) - readBefore < 64 * 1024, 'S3 sent nothing for the reads');

    const againBefore = await originSentBytes();
    const again = reportOf(await warmup([`s3://${BUCKET}/train`]));
    assert.deepEqual([again.blocksLoaded, again.blocksSkipped, again.failed.length], [0, 16, 0]);
    assert.ok((await originSentBytes()) - againBefore < 64 * 1024, 'a second warm-up sends ~0 bytes from S3');

    // Pinned on the owners of its blocks; `cachalot status` shows it once the heartbeats carry it.
    const pin = await runCli(['pin', '--meta', `127.0.0.1:${metaPort}`, '--token-file', tokenFile, '--json', `s3://${BUCKET}/train/c/d.bin`], s3.env);
    assert.equal(pin.code, 0, pin.stderr);
    assert.equal(reportOf(pin).blocksSkipped, 4);
    const pinned = await waitFor(async () => {
      const status = await runCli(['status', '--meta', `127.0.0.1:${metaPort}`, '--token-file', tokenFile, '--json'], s3.env);
      return (JSON.parse(status.stdout) as ClusterStatus).totals.pinnedBytes === 4 * MiB;
    }, 10_000);
    assert.ok(pinned, 'status shows the 4 MiB pinned over the cluster');
  });

  test('SIGINT stops a warm-up cleanly (exit 130, partial report); a rerun completes, S3 bytes in all <= 1.1x', async (t) => {
    const before = await originSentBytes();
    const child = spawn(CACHALOT, warmupArgs(['--parallel', '1', `s3://${BUCKET}/large/`]), { env: s3.env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    const exited = childExit(child, 60_000);
    await waitFor(async () => (await originSentBytes()) - before > 4 * MiB || child.exitCode !== null, 30_000, 10);
    child.kill('SIGINT');
    const { code } = await exited;
    const first = JSON.parse(stdout) as WarmupReport;
    t.diagnostic(`first run: exit ${code}, ${first.blocksLoaded} blocks loaded, interrupted ${first.interrupted}`);
    if (code === 130) assert.equal(first.interrupted, true);
    else assert.equal(code, 0, 'finished before the signal came');

    const rerun = await warmup([`s3://${BUCKET}/large/`]);
    assert.equal(rerun.code, 0, rerun.stderr);
    const second = reportOf(rerun);
    assert.equal(second.objects, LARGE.size);
    assert.equal(second.blocksLoaded + second.blocksSkipped, 48);
    assert.equal(first.blocksLoaded + second.blocksLoaded, 48, 'the rerun loads what the first left, nothing twice');
    const sent = (await originSentBytes()) - before;
    t.diagnostic(`S3 sent ${sent} bytes over both runs for ${size(LARGE)} bytes`);
    assert.ok(sent <= 1.1 * size(LARGE), `S3 sent ${sent} bytes for ${size(LARGE)}`);
  });

  test('without --endpoint, evict, warmup, pin and unpin reach S3 where meta does; a flag still wins', async () => {
    const env = envWithoutOrigin();
    const target = `s3://${BUCKET}/train/c/d.bin`;
    const run = async (command: string) => {
      const result = await runCli([command, '--meta', `127.0.0.1:${metaPort}`, '--token-file', tokenFile, '--json', target], env);
      assert.equal(result.code, 0, `${command}: ${result.stderr}`);
      return reportOf(result);
    };
    assert.equal((await run('unpin')).objects, 1);
    assert.equal((await run('evict')).objects, 1);
    const reloaded = await run('warmup');
    assert.deepEqual([reloaded.objects, reloaded.blocksLoaded, reloaded.blocksSkipped], [1, 4, 0], 'the evicted blocks load again');
    assert.equal((await run('pin')).blocksSkipped, 4);
    const port = await freePort();
    const flagWins = await runCli(['evict', '--meta', `127.0.0.1:${metaPort}`, '--token-file', tokenFile, '--endpoint', `http://127.0.0.1:${port}`, target], env);
    assert.equal(flagWins.code, 1, 'listing at the flag\'s endpoint, where nobody listens, fails');
    assert.match(flagWins.stderr, /unreachable/i);
  });
});
