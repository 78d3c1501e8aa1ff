// The daemons as systemd runs them (docs/DEPLOY.md): `cachalot mount
// --foreground --name NAME` of a [mounts.NAME] table and `cachalot meta
// --config` of a [meta] table, with NOTIFY_SOCKET pointing at a socket this
// test binds (tests/support/notify-listener.ts); SIGHUP, SIGTERM during a
// read, kill -9 and a new start on the same mountpoint and cache dir, and
// /metrics of both. Every child is ended by its PID and every mount undone
// in after(), also when a test fails.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { childExit, connectionRefused, freePort, killChild, MiB, mountAt, metricsText, patternBytes, putObject, waitFor, assertSameBytes } from '../support/e2e-helpers';
import { startFaultyProxy, type FaultyProxy } from '../support/faulty-proxy';
import { CACHALOT, forceUnmount } from '../support/mount-fixture';
import { listenForNotify, type NotifyListener } from '../support/notify-listener';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { statsOf, tierOf } from '../support/cache-fixture';

const BUCKET = 'service';
const SMALL = patternBytes(256 * 1024, 7);
const BIG = patternBytes(4 * MiB, 8);

let s3: S3Fixture;
let proxy: FaultyProxy;
let work: string;
let notify: NotifyListener;
const children: ChildProcess[] = [];
const mountpoints: string[] = [];

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  await putObject(s3, BUCKET, 'small.bin', SMALL);
  await putObject(s3, BUCKET, 'big.bin', BIG);
  proxy = await startFaultyProxy(s3.endpoint);
  work = mkdtempSync(join(tmpdir(), 'cachalot-service-'));
  notify = await listenForNotify(work);
});

after(async () => {
  for (const child of children) await killChild(child);
  for (const mp of mountpoints) await forceUnmount(mp);
  await notify?.close();
  await proxy?.stop();
  await s3?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A daemon started as its unit does, its stdout (the JSON log lines journald would get) collected. */
function startService(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(CACHALOT, args, { env: { ...s3.env, NOTIFY_SOCKET: notify.path, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return { child, output: () => output };
}

function newMountpoint(name: string): string {
  const mp = join(work, `mnt-${name}`);
  mkdirSync(mp);
  mountpoints.push(mp);
  return mp;
}

/** The mountpoint is the mounted filesystem now (not the empty directory under it). */
const answers = (mp: string) => mountAt(mp) !== undefined && statSync(mp).dev !== statSync(work).dev;

test('sd_notify: READY=1 only once the mount answers, WATCHDOG=1 keeps coming; SIGHUP reloads; /metrics; SIGTERM: STOPPING=1, exit 0', async () => {
  const mp = newMountpoint('notify');
  const metricsPort = await freePort();
  const config = join(work, 'notify.toml');
  const toml = (level: string) =>
    `cache_dir = "${join(work, 'caches')}"\nlog_level = "${level}"\n` +
    `[mounts.train]\nsource = "s3://${BUCKET}"\nmountpoint = "${mp}"\nmetrics = "127.0.0.1:${metricsPort}"\nram_cache = "64MiB"\ndisk_cache = "64MiB"\n`;
  writeFileSync(config, toml('warn'));
  notify.messages.length = 0;
  const { child, output } = startService(['mount', '--foreground', '--config', config, '--name', 'train'], { WATCHDOG_USEC: '400000' });
  // Checked every few ms while it starts: READY=1 must never be there before the mount answers.
  const ready = await waitFor(() => {
    const message = notify.messages.find((m) => m.fields.READY === '1');
    if (message) assert.ok(answers(mp), 'READY=1 came while the mountpoint did not answer yet');
    return message ?? child.exitCode !== null;
  }, 30_000, 5);
  assert.ok(ready && ready !== true, `READY=1 arrives (output: ${output()})`);
  assert.equal(ready.fields.MAINPID, String(child.pid));
  assert.deepEqual(readdirSync(mp).sort(), ['big.bin', 'small.bin']);
  assert.ok(statSync(join(work, 'caches', 'train')).isDirectory(), 'a named mount caches under cache_dir/NAME');

  const pingsAtReady = notify.messages.filter((m) => m.fields.WATCHDOG === '1').length;
  await waitFor(() => notify.messages.filter((m) => m.fields.WATCHDOG === '1').length >= pingsAtReady + 4, 3000);
  assert.ok(notify.messages.filter((m) => m.fields.WATCHDOG === '1').length >= pingsAtReady + 4, 'WATCHDOG=1 every WATCHDOG_USEC/2');

  const metrics = await metricsText(metricsPort);
  for (const series of ['cachalot_fuse_op_seconds_bucket', 'cachalot_cache_used_bytes', 'cachalot_s3_requests_total', 'cachalot_process_cpu_seconds_total']) {
    assert.ok(metrics.includes(series), `/metrics has ${series}`);
  }

  writeFileSync(config, toml('info').replace('disk_cache = "64MiB"', 'disk_cache = "32MiB"'));
  child.kill('SIGHUP');
  await waitFor(() => output().includes('reloaded the config'), 5000);
  assert.match(output(), /"logLevel":"info","metadataTtlMs":60000,"negativeTtlMs":5000,"diskCache":33554432/, 'SIGHUP applied the new level and disk cache size');
  assert.equal(tierOf(await statsOf(mp, s3.env), 'disk').capacityBytes, 32 * MiB);

  const exited = childExit(child, 30_000);
  child.kill('SIGTERM');
  await notify.waitFor('STOPPING', '1', 10_000);
  assert.deepEqual(await exited, { code: 0, signal: null });
  assert.equal(mountAt(mp), undefined, 'unmounted');
});

test('SIGTERM during a read: the read completes with the right bytes, then exit 0 and the mountpoint is gone', async () => {
  const mp = newMountpoint('drain');
  const { child, output } = startService(['mount', `s3://${BUCKET}`, mp, '--foreground', '--endpoint', proxy.endpoint, '--cache-dir', join(work, 'cache-drain'), '--ram-cache', '64MiB', '--disk-cache', '0']);
  await waitFor(() => answers(mp) || child.exitCode !== null, 30_000);
  assert.ok(answers(mp), output());
  const handle = await open(join(mp, 'small.bin'));
  try {
    proxy.resetStats();
    proxy.setDelay({ ms: 1500, match: (r) => r.op === 'get-object' });
    const buffer = Buffer.alloc(SMALL.length);
    const reading = handle.read(buffer, 0, buffer.length, 0);
    await waitFor(() => proxy.stats.byOp['get-object'] > 0, 10_000);
    const exited = childExit(child, 30_000);
    child.kill('SIGTERM');
    const { bytesRead } = await reading;
    assert.equal(bytesRead, SMALL.length);
    assertSameBytes(buffer, SMALL, 'the read in flight at SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null }, output());
    assert.equal(mountAt(mp), undefined, 'the mountpoint is gone');
    await assert.rejects(open(join(mp, 'small.bin')), 'no new opens: the path is the empty directory again');
  } finally {
    proxy.setDelay(undefined);
    await handle.close().catch(() => undefined);
  }
});

test('kill -9, then a start on the same mountpoint and cache dir: back within seconds, the disk cache recovered', async () => {
  const mp = newMountpoint('crash');
  const args = ['mount', `s3://${BUCKET}`, mp, '--foreground', '--endpoint', proxy.endpoint, '--cache-dir', join(work, 'cache-crash'), '--ram-cache', '0', '--disk-cache', '64MiB', '--block-size', '1MiB'];
  const first = startService(args);
  await waitFor(() => answers(mp) || first.child.exitCode !== null, 30_000);
  assertSameBytes(await readFile(join(mp, 'big.bin')), BIG, 'first read');
  await waitFor(async () => tierOf(await statsOf(mp, s3.env), 'disk').usedBytes === BIG.length, 10_000);
  const killed = childExit(first.child, 10_000);
  first.child.kill('SIGKILL');
  assert.equal((await killed).signal, 'SIGKILL');

  const started = Date.now();
  const second = startService(args);
  // The dead mount still looks mounted: wait for the new daemon to say it replaced it.
  await waitFor(() => second.output().includes('"msg":"mounted"') || second.child.exitCode !== null, 30_000);
  assert.match(second.output(), /replaced a stale mount/);
  assert.ok(answers(mp), `back: ${second.output()}`);
  assert.ok(Date.now() - started < 10_000, `back within 10 s (${Date.now() - started} ms)`);
  proxy.resetStats();
  assertSameBytes(await readFile(join(mp, 'big.bin')), BIG, 'read after the restart');
  assert.equal(proxy.stats.getsByKey.get('big.bin') ?? 0, 0, 'served from the recovered disk cache, no GET');
  const exited = childExit(second.child, 30_000);
  second.child.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 0, signal: null });
});

test('meta from its [meta] table: READY=1 once it serves, /metrics with cachalot_meta_ series, SIGTERM exits 0', async () => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const token = join(work, 'token');
  writeFileSync(token, 'service-test-token\n', { mode: 0o600 });
  const config = join(work, 'meta.toml');
  writeFileSync(config, `[meta]\nlisten = "127.0.0.1:${port}"\ndata_dir = "${join(work, 'meta')}"\ntoken_file = "${token}"\nmetrics = "127.0.0.1:${metricsPort}"\nlog_level = "warn"\n`);
  notify.messages.length = 0;
  const { child, output } = startService(['meta', '--config', config]);
  const ready = await notify.waitFor('READY', '1', 15_000);
  assert.ok(!(await connectionRefused(port)), 'serving when READY=1 came');
  await waitFor(() => output().includes(`meta listening on 127.0.0.1:${port}`), 5000);
  assert.equal(ready.fields.MAINPID, String(child.pid));
  const metrics = await metricsText(metricsPort);
  for (const series of ['cachalot_meta_epoch', 'cachalot_meta_members{state="alive"} 0', 'cachalot_meta_listing_entries', 'cachalot_process_cpu_seconds_total']) {
    assert.ok(metrics.includes(series), `/metrics has ${series}`);
  }
  const exited = childExit(child, 15_000);
  child.kill('SIGTERM');
  await notify.waitFor('STOPPING', '1', 10_000);
  assert.deepEqual(await exited, { code: 0, signal: null });
});
