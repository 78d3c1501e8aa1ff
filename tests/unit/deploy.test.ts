// Deployment files: scripts/install.sh into a temporary root (DESTDIR), the
// units it installs passing `systemd-analyze verify`, the fstab mount helper's
// translation of -o options, and `cachalot config check` one-line errors.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { MetaMetrics } from '../../src/meta/meta-metrics';
import { Metrics } from '../../src/obs/metrics';
import { runCli, assertOneLineError } from '../support/mount-fixture';

const exec = promisify(execFile);
const ROOT = resolve(__dirname, '../../..');
const INSTALL = join(ROOT, 'scripts/install.sh');
const UNITS = ['cachalot@.service', 'cachalot-meta.service'];

let work: string;
let destdir: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'cachalot-deploy-'));
  destdir = join(work, 'root');
  await exec('bash', [INSTALL], { env: { ...process.env, DESTDIR: destdir } });
});

after(() => rmSync(work, { recursive: true, force: true }));

const mode = (path: string) => (statSync(path).mode & 0o7777).toString(8);

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

test('systemd-analyze verify passes on every unit (an instance of the template included)', async (t) => {
  if (!existsSync('/usr/bin/systemd-analyze') && !existsSync('/bin/systemd-analyze')) return t.skip('systemd-analyze is missing (scripts/setup.sh installs systemd)');
  // The installed units, with the prefix where DESTDIR put it, so that their commands exist here.
  const dir = join(work, 'verify');
  mkdirSync(dir);
  for (const unit of UNITS) {
    const text = readFileSync(join(destdir, 'etc/systemd/system', unit), 'utf8').replaceAll('/opt/cachalot/', `${destdir}/opt/cachalot/`);
    writeFileSync(join(dir, unit), text);
  }
  symlinkSync('cachalot@.service', join(dir, 'cachalot@imagenet.service'));
  const { stdout, stderr } = await exec('systemd-analyze', ['verify', join(dir, 'cachalot@imagenet.service'), join(dir, 'cachalot-meta.service')]);
  // verify exits 0 on unknown keys too; it must have nothing to say.
  assert.equal(`${stdout}${stderr}`.trim(), '');
});

test('mount.fuse.cachalot turns mount(8) arguments into `cachalot mount` flags', () => {
  const bin = join(work, 'fake-bin');
  mkdirSync(bin);
  // The helper falls back to `cachalot` on PATH when PREFIX/bin/cachalot is not there: a stand-in that prints its arguments.
  writeFileSync(join(bin, 'cachalot'), '#!/bin/sh\nprintf "%s\\n" "$@"\n');
  chmodSync(join(bin, 'cachalot'), 0o755);
  const helper = join(destdir, 'sbin/mount.fuse.cachalot');
  const args = (...argv: string[]) =>
    execFileSync(helper, argv, { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(args('s3://bucket/train', '/mnt/train', '-o', 'rw,_netdev,nofail,x-systemd.automount,allow_other,metadata_ttl=never,cache_dir=/var/cache/cachalot/train,ro'), [
    'mount', 's3://bucket/train', '/mnt/train', '--allow-other', '--metadata-ttl', 'never', '--cache-dir', '/var/cache/cachalot/train', '--read-only',
  ]);
  assert.deepEqual(args('s3://bucket', '/mnt/b', '-n', '-oconfig=/etc/cachalot/other.toml'), ['mount', 's3://bucket', '/mnt/b', '--config', '/etc/cachalot/other.toml']);
  assert.throws(() => execFileSync(helper, ['only-one'], { stdio: 'pipe' }), (err: { status: number }) => err.status === 2);
});

test('config check: each error is one line naming the file and the key (exit 2)', async () => {
  const path = join(work, 'check.toml');
  // The file and the key, as the file writes it; a mismatch of keys names each with the file.
  const inFile = (rest: string) => new RegExp(`error: ${path}: ${rest}`);
  const cases: Array<[string, RegExp]> = [
    ['bogus = 1\n', inFile('bogus: unknown key$')],
    ['[mounts.a]\nsource = "s3://bucket"\nmountpoint = "/mnt/a"\nblock_size = "3MiB"\n', inFile('mounts\\.a\\.block_size: must be a power of two')],
    ['[mounts.a]\nsource = "s3://bucket"\nmountpoint = "/mnt/a"\ndisk_cache = "1000TiB"\n', new RegExp(`error: mounts\\.a\\.disk_cache in ${path} \\(1000\\.0 TiB\\) is larger than the disk`)],
    ['ram_cache = 12\n[mounts.a]\nsource = "s3://bucket"\nmountpoint = "/mnt/a"\n', new RegExp(`error: ram_cache in ${path} \\(12 B\\) must be 0 or at least three blocks`)],
    ['[mounts.a]\nsource = "s3://bucket"\n', inFile('mounts\\.a\\.mountpoint: Required')],
    ['[mounts."bad name"]\nsource = "s3://bucket"\nmountpoint = "/mnt/a"\n', /mount names are letters/],
    ['[meta]\nlisten = "127.0.0.1:7000"\n', /error: --data-dir is required \(a flag, or data_dir under \[meta\]/],
    ['[meta]\nlease_ms = "long"\n', inFile('meta\\.lease_ms: must be an integer from 300 to 600000')],
    ['metadata_ttl = "soon"\n', inFile('metadata_ttl: invalid duration "soon"')],
    ['not toml at all', inFile('invalid TOML')],
  ];
  for (const [text, pattern] of cases) {
    writeFileSync(path, text);
    assertOneLineError(await runCli(['config', 'check', path], process.env), pattern, 2);
  }
  const shown = await runCli(['config', 'show', '--config', join(destdir, 'etc/cachalot/cachalot.toml')], { ...process.env, AWS_SECRET_ACCESS_KEY: 'very-secret-value' });
  assert.equal(shown.code, 0, shown.stderr);
  assert.ok(!shown.stdout.includes('very-secret-value'), 'secrets masked');
  assert.match(shown.stdout, /aws_secret_access_key = "\*\*\*\*"/);
});

// Last: it upgrades and uninstalls the tree the tests above use.
test('install.sh into DESTDIR leaves the program, the command, the helper, the units, the config and the state folders', async () => {
  const at = (path: string) => join(destdir, path);
  assert.equal(readlinkSync(at('usr/local/bin/cachalot')), '/opt/cachalot/bin/cachalot');
  assert.ok(existsSync(at('opt/cachalot/dist/daemon/cli-main.js')));
  assert.ok(existsSync(at('opt/cachalot/native/notify/build/Release/cachalot_notify.node')));
  assert.ok(existsSync(at('opt/cachalot/native/fuse/build/Release')));
  assert.ok(!existsSync(at('opt/cachalot/dist/tests')), 'no tests in the install');
  assert.match(readFileSync(at('sbin/mount.fuse.cachalot'), 'utf8'), /^cachalot=\/opt\/cachalot\/bin\/cachalot$/m);
  assert.equal(mode(at('sbin/mount.fuse.cachalot')), '755');
  for (const unit of UNITS) assert.match(readFileSync(at(`etc/systemd/system/${unit}`), 'utf8'), /ExecStart=\/opt\/cachalot\/bin\/cachalot /);
  assert.equal(mode(at('var/cache/cachalot')), '700');
  assert.equal(mode(at('var/lib/cachalot-meta')), '700');
  assert.equal(readFileSync(at('etc/cachalot/cachalot.toml'), 'utf8'), readFileSync(join(ROOT, 'systemd/cachalot.toml.example'), 'utf8'));
  const { stdout } = await exec(at('opt/cachalot/bin/cachalot'), ['--version']);
  assert.equal(stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version, 'the installed command runs');
  const check = await runCli(['config', 'check', at('etc/cachalot/cachalot.toml')], process.env);
  assert.equal(check.code, 0, `the example config is valid: ${check.stderr}`);

  // Again: an upgrade keeps an edited config; --uninstall keeps config and caches.
  writeFileSync(at('etc/cachalot/cachalot.toml'), 'log_level = "debug"\n');
  await exec('bash', [INSTALL], { env: { ...process.env, DESTDIR: destdir } });
  assert.equal(readFileSync(at('etc/cachalot/cachalot.toml'), 'utf8'), 'log_level = "debug"\n');
  assert.ok(existsSync(at('opt/cachalot/bin/cachalot')));
  await exec('bash', [INSTALL, '--uninstall'], { env: { ...process.env, DESTDIR: destdir } });
  for (const gone of ['opt/cachalot', 'usr/local/bin/cachalot', 'sbin/mount.fuse.cachalot', ...UNITS.map((u) => `etc/systemd/system/${u}`)]) {
    assert.ok(!existsSync(at(gone)) && !lstatExists(at(gone)), `${gone} removed`);
  }
  for (const kept of ['etc/cachalot/cachalot.toml', 'var/cache/cachalot', 'var/lib/cachalot-meta']) assert.ok(existsSync(at(kept)), `${kept} kept`);
});

test('the Grafana dashboard asks only for series that node and meta export', async () => {
  const dashboard = readFileSync(join(ROOT, 'docs/grafana-dashboard.json'), 'utf8');
  const node = new Metrics();
  node.trackCache(() => [{ tier: 'ram', usedBytes: 0, capacityBytes: 0, blocks: 0, hits: 0, misses: 0, evictions: 0, errors: 0, pinnedBytes: 0 }]);
  node.trackBlockMemory({ usedBytes: 0, peakBytes: 0, capacityBytes: 0 });
  const meta = new MetaMetrics();
  meta.track(() => ({ epoch: 1, members: [] }), () => 0, () => 0);
  const exported = `${await node.registry.metrics()}\n${await meta.registry.metrics()}`;
  const asked = new Set(dashboard.match(/cachalot_[a-z0-9_]+/g));
  assert.ok(asked.size > 15);
  // A histogram is asked for by its _bucket series; a labelled counter has no sample before its first count.
  for (const name of asked) assert.match(exported, new RegExp(`^# TYPE ${name.replace(/_bucket$/, '')} `, 'm'), `${name} is exported`);
});
