import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadMountConfig } from '../../src/config/load-config';
import { loadMetaConfig } from '../../src/config/load-meta-config';
import { s3OriginFrom } from '../../src/config/s3-origin';
import { parseDuration, parseSize } from '../../src/config/units';
import { isCachalotError } from '../../src/errors';
import { parseS3Uri } from '../../src/object/s3-uri';

test('sizes: binary and decimal units, plain bytes; nonsense is an error quoting it', () => {
  assert.equal(parseSize('512MiB'), 512 * 2 ** 20);
  assert.equal(parseSize('4GiB'), 4 * 2 ** 30);
  assert.equal(parseSize('1.5GB'), 1.5e9);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize(4096), 4096);
  for (const bad of ['4XB', 'abc', '', '-1', '1 2']) {
    assert.throws(() => parseSize(bad), (err) => isCachalotError(err, 'InvalidConfig') && err.message.includes(`"${bad}"`));
  }
});

test('durations: ms, s, m, h, plain seconds, never', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('60s'), 60_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('2'), 2000);
  assert.equal(parseDuration('never'), Infinity);
  assert.throws(() => parseDuration('soon'), (err) => isCachalotError(err, 'InvalidConfig'));
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
const messageMatches = (pattern: RegExp) => (err: unknown) => isCachalotError(err, 'InvalidConfig') && pattern.test(err.message) && !err.message.includes('\n');

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
    ['block_size = "3MiB"\n', /block_size: must be a power of two/],
    ['bogus_key = 1\n', /bogus_key: unknown key/],
    ['uid = "root"\n', /uid: must be an integer/],
    ['metadata_ttl = "soon"\n', /metadata_ttl: invalid duration/],
    ['this is not toml', /invalid TOML/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(
      () => loadMountConfig({ ...base, configFile: configFile(text), env: {}, flags: {} }),
      messageMatches(pattern),
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
    [{ ram_cache: '16MiB' }, /--ram-cache \(16\.0 MiB\) must be 0 or at least three blocks of block_size/],
    [{ ram_cache: '256MiB', memory_limit: '256MiB' }, /--memory-limit \(256\.0 MiB\) and the disk writes it feeds \(192\.0 MiB\) must fit in --ram-cache/],
    [{ ram_cache: '256MiB', readahead_max: '64MiB' }, /--readahead-max \(64\.0 MiB\) must be at most half of memory_limit \(64\.0 MiB\)/],
    [{ memory_limit: '16MiB', block_size: '16MiB' }, /--memory-limit \(16\.0 MiB\) must be at least two blocks of --block-size/],
  ];
  for (const [flags, pattern] of cases) {
    assert.throws(
      () => loadMountConfig({ ...base, env: {}, flags }),
      messageMatches(pattern),
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
    assert.throws(() => load(settings), messageMatches(pattern), JSON.stringify(settings));
  invalid({ meta: '127.0.0.1:7000' }, /--meta needs the cluster secret \(--token-file/);
  invalid({ node_id: 'a' }, /--node-id needs meta/);
  invalid({ token_file: '/t' }, /--token-file needs meta/);
  invalid({ ...flags, node_id: 'has space' }, /^--node-id: must be letters, digits/);
  invalid({ meta: 'no-port', token_file: '/t' }, /^--meta: must be HOST:PORT$/);
  // TLS: file names here; the daemon reads and checks the files (tests/unit/cluster-tls.test.ts).
  assert.deepEqual(load(flags).cluster?.tls, { cert: undefined, key: undefined, ca: undefined });
  assert.deepEqual(load({ ...flags, tls_cert: '/c.pem', tls_key: '/c.key', tls_ca: '/ca.pem' }).cluster?.tls, { cert: '/c.pem', key: '/c.key', ca: '/ca.pem' });
  invalid({ tls_ca: '/ca.pem' }, /--tls-ca needs meta/);
  invalid({ ...flags, tls_cert: '' }, /^--tls-cert: must not be empty$/);
  // lz4 between peers: on unless turned off.
  assert.equal(load(flags).cluster?.lz4, true);
  assert.equal(load({ ...flags, peer_lz4: false }).cluster?.lz4, false);
  invalid({ peer_lz4: false }, /--no-peer-lz4 needs meta/);
  invalid({ ...flags, peer_lz4: 'no' }, /^--no-peer-lz4: Expected boolean/);
});

test('an error names where the value came from: the flag as typed, the variable, the file and its key', () => {
  const fails = (sources: Partial<Parameters<typeof loadMountConfig>[0]>, pattern: RegExp) =>
    assert.throws(() => loadMountConfig({ ...base, env: {}, flags: {}, ...sources }), messageMatches(pattern), `${JSON.stringify(sources)} -> ${pattern}`);
  const escaped = (path: string) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  fails({ flags: { block_size: '3MiB' } }, /^--block-size: must be a power of two from 64KiB to 1GiB$/);
  fails({ flags: { ram_cache: 'abc' } }, /^--ram-cache: invalid size "abc"/);
  fails({ flags: { uid: 'root' } }, /^--uid: must be an integer/);
  fails({ env: { CACHALOT_LOG_LEVEL: 'loud' } }, /^CACHALOT_LOG_LEVEL: "loud" is not one of trace, debug, info/);
  fails({ env: { AWS_ENDPOINT_URL: 'not a url' } }, /^AWS_ENDPOINT_URL: must be a URL/);
  const shared = configFile('ram_cache = "abc"\n');
  fails({ configFile: shared }, new RegExp(`^${escaped(shared)}: ram_cache: invalid size "abc"`));
  fails({ env: { CACHALOT_CONFIG: shared } }, new RegExp(`^CACHALOT_CONFIG=${escaped(shared)}: ram_cache: invalid size "abc"`));
  const named = configFile('[mounts.data]\nsource = "s3://bucket"\nmountpoint = "/mnt/data"\nblock_size = "3MiB"\n');
  fails({ configFile: named, name: 'data' }, new RegExp(`^${escaped(named)}: mounts\\.data\\.block_size: must be a power of two`));
  // Two keys that do not go together: each named as it was set.
  const limit = configFile('memory_limit = "16MiB"\n');
  fails({ configFile: limit, flags: { block_size: '16MiB' } }, new RegExp(`^memory_limit in ${escaped(limit)} \\(16\\.0 MiB\\) must be at least two blocks of --block-size`));
  // An empty variable is no value: the default stands.
  assert.equal(loadMountConfig({ ...base, env: { AWS_REGION: '' }, flags: {} }).region, 'us-east-1');
});

test('meta: flags win over env, env over [meta], defaults declared once; listen, data_dir and token_file are required', () => {
  const file = configFile('[meta]\nlisten = "0.0.0.0:7000"\ndata_dir = "/var/lib/m"\ntoken_file = "/etc/t"\nregion = "file-region"\nlease_ms = 2000\n');
  const config = loadMetaConfig({ configFile: file, env: { AWS_REGION: 'env-region', CACHALOT_LOG_LEVEL: 'warn' }, flags: { lease_ms: '3000' } });
  assert.deepEqual(
    { ...config, tls: undefined },
    { listen: '0.0.0.0:7000', dataDir: '/var/lib/m', tokenFile: '/etc/t', leaseMs: 3000, endpoint: undefined, region: 'env-region', listingTtlMs: 60_000, listingEntries: 1_000_000, metrics: undefined, logLevel: 'warn', tls: undefined },
  );
  assert.throws(() => loadMetaConfig({ env: {}, flags: { data_dir: '/d', token_file: '/t' } }), messageMatches(/^--listen is required/));
  const bad = configFile('[meta]\nlease_ms = 5\n');
  assert.throws(() => loadMetaConfig({ configFile: bad, env: {}, flags: {} }), (err) => err instanceof Error && err.message === `${bad}: meta.lease_ms: must be an integer from 300 to 600000`);
  assert.throws(() => loadMetaConfig({ env: {}, flags: { listen: ':7', data_dir: '/d', token_file: '/t' } }), messageMatches(/^--listen: must be HOST:PORT$/));
});

test("a cluster command's S3: its flags, then the AWS environment, then meta's, then the defaults", () => {
  const meta = { endpoint: 'http://meta:1', region: 'meta-region' };
  assert.deepEqual(s3OriginFrom({}, {})(meta), meta);
  assert.deepEqual(s3OriginFrom({}, {})(undefined), { region: 'us-east-1' });
  assert.deepEqual(s3OriginFrom({}, { AWS_ENDPOINT_URL: 'http://env:2' })(meta), { endpoint: 'http://env:2', region: 'meta-region' });
  assert.deepEqual(s3OriginFrom({ region: 'flag-region' }, { AWS_REGION: 'env-region' })(meta), { endpoint: 'http://meta:1', region: 'flag-region' });
  assert.throws(() => s3OriginFrom({ endpoint: 'nope' }, {}), messageMatches(/^--endpoint: must be a URL/));
});
