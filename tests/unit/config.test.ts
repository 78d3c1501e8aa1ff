import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadMountConfig } from '../../src/config/load-config';
import { parseDuration, parseSize } from '../../src/config/units';
import { isCachalotError } from '../../src/errors';
import { parseS3Uri } from '../../src/object/s3-uri';

test('sizes: binary and decimal units, plain bytes; nonsense is an error naming the flag', () => {
  assert.equal(parseSize('512MiB', 'x'), 512 * 2 ** 20);
  assert.equal(parseSize('4GiB', 'x'), 4 * 2 ** 30);
  assert.equal(parseSize('1.5GB', 'x'), 1.5e9);
  assert.equal(parseSize('4096', 'x'), 4096);
  assert.equal(parseSize(4096, 'x'), 4096);
  for (const bad of ['4XB', 'abc', '', '-1', '1 2']) {
    assert.throws(() => parseSize(bad, '--ram-cache'), (err) => isCachalotError(err, 'InvalidConfig') && err.message.includes('--ram-cache'));
  }
});

test('durations: ms, s, m, h, plain seconds, never', () => {
  assert.equal(parseDuration('500ms', 'x'), 500);
  assert.equal(parseDuration('60s', 'x'), 60_000);
  assert.equal(parseDuration('5m', 'x'), 300_000);
  assert.equal(parseDuration('2', 'x'), 2000);
  assert.equal(parseDuration('never', 'x'), Infinity);
  assert.throws(() => parseDuration('soon', 'x'), (err) => isCachalotError(err, 'InvalidConfig'));
});

test('s3 URIs: bucket and folder prefix; bad ones are InvalidUri', () => {
  assert.deepEqual(parseS3Uri('s3://my-bucket'), { bucket: 'my-bucket', prefix: '' });
  assert.deepEqual(parseS3Uri('s3://my-bucket/'), { bucket: 'my-bucket', prefix: '' });
  assert.deepEqual(parseS3Uri('s3://my-bucket/a/b'), { bucket: 'my-bucket', prefix: 'a/b/' });
  for (const bad of ['s3:/x', 'http://bucket', 's3://', 's3://UPPER', 's3://ab', 's3://b..c/x', 's3://bucket/../x']) {
    assert.throws(() => parseS3Uri(bad), (err) => isCachalotError(err, 'InvalidUri'), bad);
  }
});

const dir = mkdtempSync(join(tmpdir(), 'cachalot-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function configFile(text: string): string {
  const path = join(dir, `cachalot-${++files}.toml`);
  writeFileSync(path, text);
  return path;
}

const base = { uri: 's3://bucket', mountpoint: '/mnt/x' };

test('flags win over env, env over the file, the file over defaults', () => {
  const file = configFile('endpoint = "http://file:1"\nregion = "file-region"\nblock_size = "4MiB"\nmetadata_ttl = "never"\n');
  const config = loadMountConfig({
    ...base,
    configFile: file,
    env: { AWS_ENDPOINT_URL: 'http://env:2', AWS_REGION: 'env-region' },
    flags: { endpoint: 'http://flag:3', block_size: undefined },
  });
  assert.equal(config.endpoint, 'http://flag:3');
  assert.equal(config.region, 'env-region');
  assert.equal(config.blockSize, 4 * 2 ** 20);
  assert.equal(config.metadataTtlMs, Infinity);
  assert.equal(config.negativeTtlMs, 5000);
});

test('config errors are one line naming the key', () => {
  const cases: Array<[string, RegExp]> = [
    ['block_size = "3MiB"\n', /"block_size": must be a power of two/],
    ['bogus_key = 1\n', /"bogus_key": unknown key/],
    ['uid = "root"\n', /"uid"/],
    ['metadata_ttl = "soon"\n', /metadata_ttl: invalid duration/],
    ['this is not toml', /invalid TOML/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(
      () => loadMountConfig({ ...base, configFile: configFile(text), env: {}, flags: {} }),
      (err) => isCachalotError(err, 'InvalidConfig') && pattern.test(err.message) && !err.message.includes('\n'),
      text,
    );
  }
  assert.throws(() => loadMountConfig({ ...base, configFile: '/no/such/file.toml', env: {}, flags: {} }), /ENOENT/);
});

const MiB = 2 ** 20;
const memoryOf = (flags: Record<string, string>) => loadMountConfig({ ...base, env: {}, flags }).memory;

test('ram_cache is the one memory budget: readahead, disk writes, compressions and the RAM tier share it', () => {
  const cases: Array<[Record<string, string>, Partial<ReturnType<typeof memoryOf>>]> = [
    // The default: a quarter to readahead (at most 1GiB), three quarters of that to disk writes (at most 24), 2 blocks compressing.
    [{}, { budgetBytes: 1024 * MiB, readaheadBytes: 256 * MiB, readaheadMax: 128 * MiB, pendingWrites: 24, ramCompressing: 2, ramTierBytes: 560 * MiB }],
    [{ ram_cache: '256MiB' }, { budgetBytes: 256 * MiB, readaheadBytes: 64 * MiB, readaheadMax: 32 * MiB, pendingWrites: 6, ramTierBytes: 128 * MiB }],
    [{ ram_cache: '16GiB' }, { readaheadBytes: 1024 * MiB, pendingWrites: 24 }],
    [{ ram_cache: '1GiB', memory_limit: '512MiB', readahead_max: '128MiB' }, { readaheadBytes: 512 * MiB, readaheadMax: 128 * MiB, ramTierBytes: 304 * MiB }],
    // No RAM tier: readahead and disk writes still have their memory, and that is the budget.
    [{ ram_cache: '0' }, { budgetBytes: 112 * MiB, readaheadBytes: 64 * MiB, pendingWrites: 6, ramCompressing: 0, ramTierBytes: 0 }],
    // Room for readahead and one write but not for a RAM tier beside them.
    [{ ram_cache: '24MiB' }, { budgetBytes: 24 * MiB, readaheadBytes: 16 * MiB, readaheadMax: 8 * MiB, pendingWrites: 1, ramTierBytes: 0 }],
  ];
  for (const [flags, expected] of cases) {
    const memory = memoryOf(flags);
    assert.deepEqual({ ...memory, ...expected }, memory, JSON.stringify(flags));
  }
  for (const ram_cache of ['0', '24MiB', '100MiB', '256MiB', '1GiB', '3GiB', '64GiB']) {
    const m = memoryOf({ ram_cache });
    const shares = m.readaheadBytes + (m.pendingWrites + m.ramCompressing) * 8 * MiB + m.ramTierBytes;
    assert.ok(shares <= m.budgetBytes, `ram_cache ${ram_cache}: shares ${shares} > budget ${m.budgetBytes}`);
  }
});

test('memory settings that cannot fit are one-line errors naming the key', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ram_cache: '16MiB' }, /"ram_cache" \(16\.0 MiB\) must be 0 or at least three blocks/],
    [{ ram_cache: '256MiB', memory_limit: '256MiB' }, /"memory_limit" \(256\.0 MiB\) and the disk writes it feeds \(192\.0 MiB\) must fit in "ram_cache"/],
    [{ ram_cache: '256MiB', readahead_max: '64MiB' }, /"readahead_max" \(64\.0 MiB\) must be at most half of "memory_limit" \(64\.0 MiB\)/],
    [{ memory_limit: '16MiB', block_size: '16MiB' }, /"memory_limit" \(16\.0 MiB\) must be at least two blocks/],
  ];
  for (const [flags, pattern] of cases) {
    assert.throws(
      () => loadMountConfig({ ...base, env: {}, flags }),
      (err) => isCachalotError(err, 'InvalidConfig') && pattern.test(err.message) && !err.message.includes('\n'),
      JSON.stringify(flags),
    );
  }
});

test('cluster keys: meta needs token_file, the others (TLS files, peer_lz4 included) need meta; the node id defaults to hostname and mountpoint', () => {
  const load = (flags: Record<string, unknown>, mountpoint = '/mnt/x') => loadMountConfig({ ...base, mountpoint, env: {}, flags });
  assert.equal(load({}).cluster, undefined);
  const cluster = load({ meta: '127.0.0.1:7000', token_file: '/etc/cachalot/token', peer_listen: '10.0.0.5:7001' }).cluster;
  assert.equal(cluster?.meta, '127.0.0.1:7000');
  assert.equal(cluster?.peerListen, '10.0.0.5:7001');
  assert.match(cluster?.nodeId ?? '', /^[A-Za-z0-9][\w.:-]*-[0-9a-f]{8}$/);
  const flags = { meta: '127.0.0.1:7000', token_file: '/t' };
  assert.equal(load(flags).cluster?.nodeId, cluster?.nodeId, 'the same across restarts');
  assert.notEqual(load(flags, '/mnt/y').cluster?.nodeId, cluster?.nodeId, 'another mountpoint, another node');
  assert.equal(load({ ...flags, node_id: 'gpu-07' }).cluster?.nodeId, 'gpu-07');
  const invalid = (settings: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(() => load(settings), (err) => isCachalotError(err, 'InvalidConfig') && pattern.test(err.message), JSON.stringify(settings));
  invalid({ meta: '127.0.0.1:7000' }, /"meta" needs "token_file"/);
  invalid({ node_id: 'a' }, /"node_id" needs "meta"/);
  invalid({ token_file: '/t' }, /"token_file" needs "meta"/);
  invalid({ ...flags, node_id: 'has space' }, /node_id/);
  invalid({ meta: 'no-port', token_file: '/t' }, /meta.*HOST:PORT/);
  // TLS: file names here; the daemon reads and checks the files (tests/unit/cluster-tls.test.ts).
  assert.deepEqual(load(flags).cluster?.tls, { cert: undefined, key: undefined, ca: undefined });
  assert.deepEqual(load({ ...flags, tls_cert: '/c.pem', tls_key: '/c.key', tls_ca: '/ca.pem' }).cluster?.tls, { cert: '/c.pem', key: '/c.key', ca: '/ca.pem' });
  invalid({ tls_ca: '/ca.pem' }, /"tls_ca" needs "meta"/);
  invalid({ ...flags, tls_cert: '' }, /tls_cert/);
  // lz4 between peers: on unless turned off.
  assert.equal(load(flags).cluster?.lz4, true);
  assert.equal(load({ ...flags, peer_lz4: false }).cluster?.lz4, false);
  invalid({ peer_lz4: false }, /"peer_lz4" needs "meta"/);
  invalid({ ...flags, peer_lz4: 'no' }, /peer_lz4/);
});
