// The command line's failure contract: every error is exactly one non-empty
// line on stderr starting with "cachalot: error:" and naming what the user
// typed, a non-zero exit code, and nothing left behind: no mount, no daemon,
// no cache dir, no log file, no control socket.
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { controlSocketPath } from '../../src/control/control-path';
import { assertOneLineError, forceUnmount, runCli, waitForExit } from '../support/mount-fixture';
import { S3Fixture, startS3Fixture } from '../support/s3-fixture';
import { connectionRefused, freePort, killChild, mountAt, processesMentioning, waitFor } from '../support/e2e-helpers';
import { startMetaProcess } from '../support/meta-process';
import { makeTlsFixture, tlsArgs, type TlsFixture } from '../support/tls-fixture';

const BUCKET = 'cli-errors';

let s3: S3Fixture;
let work: string;
let counter = 0;
const mountpoints: string[] = [];

before(async () => {
  s3 = await startS3Fixture([BUCKET]);
  await s3.put(BUCKET, 'hello.txt', 'hello');
  work = mkdtempSync(join(tmpdir(), 'cachalot-cli-errors-'));
});

after(async () => {
  for (const mp of mountpoints) await forceUnmount(mp);
  // Daemons of mounts a failing test left behind: by PID, found by their unique mountpoint.
  for (const mp of mountpoints) {
    for (const pid of processesMentioning(mp)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await waitForExit(pid, 5000);
    }
  }
  await s3?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh, empty directory to mount on (tracked for cleanup). */
function newMountpoint(): string {
  const mp = join(work, `mnt-${++counter}`);
  mkdirSync(mp);
  mountpoints.push(mp);
  return mp;
}

/** Nothing mounted at mp, no process (a daemon) still mentions it, and no control socket is left for it. */
async function assertNothingLeft(mp: string): Promise<void> {
  assert.equal(mountAt(mp), undefined, `no mount left at ${mp}`);
  const left = await waitFor(() => processesMentioning(mp).length === 0, 5000);
  assert.ok(left, `no daemon left for ${mp}: pids ${processesMentioning(mp).join(', ')}`);
  assert.equal(existsSync(controlSocketPath(mp)), false, `no control socket left for ${mp}`);
}

/**
 * `cachalot mount SOURCE MP ...` in the background must fail with one line
 * and leave nothing behind, its cache dir (also where its log would go)
 * included: each call names a fresh one. Returns how long it took.
 */
async function mountFails(
  source: string,
  mp: string,
  pattern: RegExp,
  options: { env?: NodeJS.ProcessEnv; args?: string[]; exitCode?: number } = {},
): Promise<number> {
  const cacheDir = join(work, `cache-of-failed-${++counter}`, 'cache');
  const started = Date.now();
  const result = await runCli(['mount', source, mp, '--cache-dir', cacheDir, ...(options.args ?? [])], options.env ?? s3.env, 60_000);
  const took = Date.now() - started;
  if (process.env.CACHALOT_TEST_VERBOSE) console.log(`${source} ${mp} -> ${result.code} ${result.stderr.trim()} (${took} ms)`);
  assertOneLineError(result, pattern, options.exitCode);
  await assertNothingLeft(mp);
  assert.equal(existsSync(dirname(cacheDir)), false, `no cache dir (nor its log) left: ${cacheDir}`);
  return took;
}

describe('mount fails at run time with one line and leaves nothing behind', () => {
  test('the bucket does not exist', async () => {
    await mountFails('s3://no-such-bucket', newMountpoint(), /no-such-bucket.*does not exist/);
  });

  test('the endpoint is unreachable', async () => {
    const port = await freePort();
    assert.ok(await connectionRefused(port), `nobody listens on 127.0.0.1:${port}`);
    const took = await mountFails(`s3://${BUCKET}`, newMountpoint(), /unreachable/i, { args: ['--endpoint', `http://127.0.0.1:${port}`] });
    assert.ok(took < 15_000, `reported at once, not after retries (${took} ms)`);
  });

  test('wrong secret key', async (t) => {
    // s3rver 3.7.1 checks the access key id but does not verify SigV4 signatures
    // (lib/middleware/authentication.js: "Signature version 4 calculation is unimplemented").
    // Ask it: when a wrong secret is accepted there is nothing for cachalot to report.
    const probe = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'definitely-wrong' },
    });
    const accepted = await probe.send(new HeadBucketCommand({ Bucket: BUCKET })).then(() => true, () => false);
    probe.destroy();
    if (accepted) {
      t.skip('s3rver accepts a wrong AWS_SECRET_ACCESS_KEY (it does not verify SigV4 signatures); see the access key id and no-credentials cases');
      return;
    }
    await mountFails(`s3://${BUCKET}`, newMountpoint(), /credential|denied|signature/i, { env: { ...s3.env, AWS_SECRET_ACCESS_KEY: 'definitely-wrong' } });
  });

  test('unknown access key id', async () => {
    await mountFails(`s3://${BUCKET}`, newMountpoint(), /credential|denied|access key/i, { env: { ...s3.env, AWS_ACCESS_KEY_ID: 'NOSUCHKEY' } });
  });

  test('no credentials at all', async () => {
    // Nothing from the environment, no shared files, no instance metadata (which would leave 127.0.0.1).
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(s3.env)) {
      if (!name.startsWith('AWS_') || name === 'AWS_ENDPOINT_URL' || name === 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED' || name === 'AWS_CA_BUNDLE') env[name] = value;
    }
    Object.assign(env, {
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'),
      AWS_CONFIG_FILE: join(work, 'no-config'),
    });
    const took = await mountFails(`s3://${BUCKET}`, newMountpoint(), /credentials/i, { env });
    assert.ok(took < 30_000, `reported in bounded time (${took} ms)`);
  });

  test('without --cache-dir: the default cache dir is not made, nor its log', async (t) => {
    const defaultDir = '/var/cache/cachalot';
    if (existsSync(defaultDir) || existsSync('/etc/cachalot/cachalot.toml')) return t.skip(`${defaultDir} or /etc/cachalot/cachalot.toml exists on this machine`);
    const mp = newMountpoint();
    assertOneLineError(await runCli(['mount', 's3://no-such-bucket', mp], s3.env, 60_000), /no-such-bucket.*does not exist/, 1);
    await assertNothingLeft(mp);
    assert.equal(existsSync(defaultDir), false, `${defaultDir} was not made`);
  });

  test('MOUNTPOINT does not exist', async () => {
    const mp = join(work, 'does-not-exist');
    mountpoints.push(mp);
    await mountFails(`s3://${BUCKET}`, mp, /does not exist/);
  });

  test('MOUNTPOINT is a regular file', async () => {
    const mp = join(work, 'a-regular-file');
    writeFileSync(mp, 'not a directory');
    mountpoints.push(mp);
    await mountFails(`s3://${BUCKET}`, mp, /not a directory/);
  });

  test('MOUNTPOINT is already mounted: the second mount fails, the first keeps serving', async () => {
    const mp = newMountpoint();
    const first = await runCli(['mount', `s3://${BUCKET}`, mp, '--cache-dir', join(work, 'cache-first'), '--log-level', 'warn'], s3.env);
    assert.equal(first.code, 0, `first mount: ${first.stderr}`);
    const pid = Number(/\(pid (\d+)/.exec(first.stdout)?.[1]);
    try {
      const second = await runCli(['mount', `s3://${BUCKET}`, mp, '--cache-dir', join(work, 'cache')], s3.env);
      assertOneLineError(second, /already mounted/);
      assert.deepEqual(readdirSync(mp), ['hello.txt'], 'the first mount still answers');
      assert.equal(processesMentioning(mp).length, 1, 'only the first daemon runs');
    } finally {
      await runCli(['unmount', mp], s3.env);
      await forceUnmount(mp);
      if (pid) await waitForExit(pid, 10_000);
    }
  });
});

// Exit code 2, as src/cli/exit.ts documents for "what the user typed or configured".
describe('usage errors are one line (exit code 2)', () => {
  test('MOUNTPOINT argument omitted', async () => {
    const result = await runCli(['mount', `s3://${BUCKET}`], s3.env);
    assertOneLineError(result, /mountpoint/i, 2);
  });

  test('an unknown flag', async () => {
    const mp = newMountpoint();
    const result = await runCli(['mount', `s3://${BUCKET}`, mp, '--no-such-flag'], s3.env);
    assertOneLineError(result, /no-such-flag/, 2);
    await assertNothingLeft(mp);
  });
});

describe('invalid input is refused before anything starts (exit code 2)', () => {
  for (const uri of ['s3:/x', 'http://bucket', 's3://', 's3://UPPER', 's3://ab', 's3://-starts-with-dash', 's3://bucket/../x', 'bucket-without-scheme']) {
    test(`invalid URI ${JSON.stringify(uri)}`, async () => {
      const mp = newMountpoint();
      await mountFails(uri, mp, /invalid/i, { exitCode: 2 });
    });
  }

  // A flag is named as typed, first: "--block-size: ...".
  const badFlags: Array<[string[], RegExp]> = [
    [['--block-size', '3MiB'], /error: --block-size: must be a power of two from 64KiB to 1GiB$/],
    [['--block-size', 'abc'], /error: --block-size: invalid size "abc"/],
    [['--block-size', '32KiB'], /error: --block-size: must be a power of two/],
    [['--ram-cache', '4XB'], /error: --ram-cache: invalid size "4XB"/],
    [['--metadata-ttl', 'soon'], /error: --metadata-ttl: invalid duration "soon"/],
    [['--metrics', 'no-port'], /error: --metrics: must be HOST:PORT$/],
    [['--endpoint', 'not a url'], /error: --endpoint: must be a URL/],
    [['--uid', 'root'], /error: --uid: must be an integer/],
    [['--file-mode', '999'], /error: --file-mode: must be an octal mode/],
    [['--ram-cache', '16MiB'], /error: --ram-cache \(16\.0 MiB\) must be 0 or at least three blocks of block_size/],
    [['--meta', '127.0.0.1:7000'], /error: --meta needs the cluster secret \(--token-file/],
    [['--node-id', 'gpu-01'], /error: --node-id needs meta/],
    [['--meta', 'no-port', '--token-file', '/dev/null'], /error: --meta: must be HOST:PORT$/],
    [['--tls-ca', '/dev/null'], /error: --tls-ca needs meta/],
  ];
  for (const [args, pattern] of badFlags) {
    test(`bad flag value: ${args.join(' ')}`, async () => {
      await mountFails(`s3://${BUCKET}`, newMountpoint(), pattern, { args, exitCode: 2 });
    });
  }

  test('a bad value in the environment names the variable (CACHALOT_LOG_LEVEL=loud, AWS_ENDPOINT_URL)', async () => {
    await mountFails(`s3://${BUCKET}`, newMountpoint(), /error: CACHALOT_LOG_LEVEL: "loud" is not one of trace/, { env: { ...s3.env, CACHALOT_LOG_LEVEL: 'loud' }, exitCode: 2 });
    await mountFails(`s3://${BUCKET}`, newMountpoint(), /error: AWS_ENDPOINT_URL: must be a URL/, { env: { ...s3.env, AWS_ENDPOINT_URL: 'not a url' }, exitCode: 2 });
  });

  test('an unknown key in a --config TOML file', async () => {
    const file = join(work, 'unknown-key.toml');
    writeFileSync(file, 'block_size = "1MiB"\nbogus_setting = 42\n');
    await mountFails(`s3://${BUCKET}`, newMountpoint(), /bogus_setting.*unknown key|unknown key.*bogus_setting/, { args: ['--config', file], exitCode: 2 });
  });

  test('a malformed TOML file', async () => {
    const file = join(work, 'malformed.toml');
    writeFileSync(file, 'block_size = "1MiB\n[[[not toml\n');
    await mountFails(`s3://${BUCKET}`, newMountpoint(), /TOML/i, { args: ['--config', file], exitCode: 2 });
  });

  test('a bad value in a --config TOML file names the file and the key', async () => {
    const file = join(work, 'bad-value.toml');
    writeFileSync(file, 'block_size = "3MiB"\nram_cache = "abc"\n');
    await mountFails(`s3://${BUCKET}`, newMountpoint(), new RegExp(`error: ${file}: (block_size: must be a power of two|ram_cache: invalid size "abc")`), { args: ['--config', file], exitCode: 2 });
    const env = { ...s3.env, CACHALOT_CONFIG: file };
    await mountFails(`s3://${BUCKET}`, newMountpoint(), new RegExp(`error: CACHALOT_CONFIG=${file}: (block_size|ram_cache): `), { env, exitCode: 2 });
  });

  test('a --config file that does not exist', async () => {
    await mountFails(`s3://${BUCKET}`, newMountpoint(), /no-such\.toml/, { args: ['--config', join(work, 'no-such.toml')], exitCode: 2 });
  });
});

describe('unmount', () => {
  test('of a directory that is not mounted fails with one line', async () => {
    const mp = newMountpoint();
    const result = await runCli(['unmount', mp], s3.env);
    assertOneLineError(result, /not mounted/);
  });

  test('of a path that does not exist fails with one line', async () => {
    const result = await runCli(['unmount', join(work, 'nowhere')], s3.env);
    assertOneLineError(result, /nowhere/);
  });
});

describe('unmount of a busy mount', () => {
  test('fails with one line while a file is open, and succeeds once it is closed', async () => {
    const mp = newMountpoint();
    const mounted = await runCli(['mount', `s3://${BUCKET}`, mp, '--cache-dir', join(work, 'cache-busy'), '--log-level', 'warn'], s3.env);
    assert.equal(mounted.code, 0, `mount: ${mounted.stderr}`);
    const pid = Number(/\(pid (\d+)/.exec(mounted.stdout)?.[1]);
    let handle: FileHandle | undefined;
    try {
      handle = await open(join(mp, 'hello.txt'));
      const busy = await runCli(['unmount', mp], s3.env);
      assertOneLineError(busy, /busy/);
      assert.ok(mountAt(mp), 'still mounted');
      assert.equal(await handle.readFile('utf8'), 'hello', 'the open file still reads');
      await handle.close();
      handle = undefined;
      const result = await runCli(['unmount', mp], s3.env);
      assert.equal(result.code, 0, `unmount once closed: ${result.stderr}`);
      assert.equal(mountAt(mp), undefined);
    } finally {
      await handle?.close().catch(() => {});
      await runCli(['unmount', mp], s3.env);
      await forceUnmount(mp);
      if (pid) await waitForExit(pid, 10_000);
    }
  });
});

const TLS_FLAGS = ['--tls-cert', '--tls-key', '--tls-ca'];

describe('mount --help', () => {
  // The flags of the command-line contract (docs: DESIGN.md) that a single node has, and the ones the code adds.
  const FLAGS = [
    '--config', '--endpoint', '--region', '--cache-dir', '--ram-cache', '--disk-cache', '--block-size', '--metrics',
    '--read-only', '--foreground', '--memory-limit', '--readahead-max', '--metadata-ttl', '--negative-ttl', '--uid',
    '--gid', '--file-mode', '--dir-mode', '--allow-other', '--log-level', '--log-file',
  ];

  test('lists the flags and exits 0', async () => {
    const result = await runCli(['mount', '--help'], s3.env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /s3:\/\/BUCKET\[\/PREFIX\]/);
    for (const flag of FLAGS) assert.ok(result.stdout.includes(flag), `--help lists ${flag}`);
  });

  test('lists the cluster flags of the contract (--meta, --node-id, --peer-listen), --token-file and the TLS flags', async () => {
    const result = await runCli(['mount', '--help'], s3.env);
    for (const flag of ['--meta ', '--node-id', '--peer-listen', '--token-file', ...TLS_FLAGS]) assert.ok(result.stdout.includes(flag), `--help lists ${flag.trim()}`);
  });
});

describe('meta and status: bad input is one line', () => {
  const tokenFile = () => {
    const path = join(work, 'token');
    writeFileSync(path, 'cli-errors-token\n', { mode: 0o600 });
    return path;
  };

  const usage: Array<[string[], RegExp]> = [
    [['meta', '--data-dir', 'd', '--token-file', 't'], /--listen/],
    [['meta', '--listen', 'no-port', '--data-dir', 'd', '--token-file', 't'], /--listen.*HOST:PORT/],
    [['meta', '--listen', '127.0.0.1:0', '--data-dir', 'd', '--token-file', 't', '--lease-ms', '5'], /error: --lease-ms: must be an integer from 300 to 600000$/],
    [['meta', '--listen', '127.0.0.1:0', '--data-dir', 'd', '--token-file', 't', '--listing-ttl', 'soon'], /--listing-ttl.*duration/],
    [['meta', '--listen', '127.0.0.1:0', '--data-dir', 'd', '--token-file', 't', '--listing-entries', '10'], /--listing-entries/],
    [['meta', '--listen', '127.0.0.1:0', '--data-dir', 'd', '--token-file', 't', '--endpoint', 'not a url'], /--endpoint.*URL/],
    [['status', '--token-file', 't'], /--meta/],
    [['status', '--meta', 'no-port', '--token-file', 't'], /error: --meta: expected HOST:PORT \(not "no-port"\)/],
    [['warmup', 's3://b/x', '--mount', '/nowhere', '--endpoint', 'not a url'], /error: --endpoint: must be a URL/],
    [['evict', 's3://b/x', '--meta', '127.0.0.1:1', '--token-file', 't', '--region', ''], /error: --region: must not be empty/],
    [['warmup', 's3://b/x', '--mount', '/nowhere', '--parallel', '0'], /error: --parallel: expected an integer from 1 to 256 \(not "0"\)/],
    [['status', '--meta', '127.0.0.1:1'], /--token-file/],
  ];
  for (const [args, pattern] of usage) {
    test(`usage: cachalot ${args.join(' ')}`, async () => {
      assertOneLineError(await runCli(args, s3.env), pattern, 2);
    });
  }

  test('a bad key in the config file: meta and config check name the file and the key', async () => {
    const file = join(work, 'bad-meta.toml');
    writeFileSync(file, '[meta]\nlisten = "127.0.0.1:0"\ndata_dir = "d"\ntoken_file = "t"\nlisting_ttl = "soon"\n');
    const named = new RegExp(`error: ${file}: meta\\.listing_ttl: invalid duration "soon"`);
    assertOneLineError(await runCli(['meta', '--config', file], s3.env), named, 2);
    assertOneLineError(await runCli(['config', 'check', file], s3.env), named, 2);
    writeFileSync(file, '[meta]\nlisten = "127.0.0.1:0"\n');
    assertOneLineError(await runCli(['config', 'check', file], s3.env), /error: --data-dir is required \(a flag, or data_dir under \[meta\]/, 2);
  });

  test('a token file that is missing or empty (exit 2)', async () => {
    const missing = join(work, 'no-token');
    assertOneLineError(await runCli(['status', '--meta', '127.0.0.1:1', '--token-file', missing], s3.env), /no-token: ENOENT/, 2);
    const empty = join(work, 'empty-token');
    writeFileSync(empty, '\n', { mode: 0o600 });
    assertOneLineError(await runCli(['meta', '--listen', '127.0.0.1:0', '--data-dir', join(work, 'meta'), '--token-file', empty], s3.env), /empty-token is empty/, 2);
  });

  test('a token file that group or others may read: refused, naming it and chmod 600 (exit 2)', async () => {
    const loose = join(work, 'loose-token');
    writeFileSync(loose, 'cli-errors-token\n');
    chmodSync(loose, 0o644);
    const refused = new RegExp(`token file ${loose} is open to group or others \\(mode 0644\\): chmod 600 ${loose}$`);
    assertOneLineError(await runCli(['status', '--meta', '127.0.0.1:1', '--token-file', loose], s3.env), refused, 2);
    assertOneLineError(await runCli(['meta', '--listen', '127.0.0.1:0', '--data-dir', join(work, 'meta'), '--token-file', loose], s3.env), refused, 2);
  });

  test('meta on a data dir another meta holds: one line naming the dir and that process (exit 1)', async (t) => {
    const dataDir = join(work, 'meta-held');
    const holder = await startMetaProcess(await freePort(), ['--data-dir', dataDir, '--token-file', tokenFile(), '--log-level', 'warn'], s3.env);
    t.after(() => killChild(holder));
    const result = await runCli(['meta', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--token-file', tokenFile()], s3.env, 15_000);
    assertOneLineError(result, new RegExp(`data dir ${dataDir} is in use by process ${holder.pid}$`), 1);
  });

  test('status of a meta nobody serves: unreachable, in bounded time (exit 1)', async () => {
    const port = await freePort();
    const started = Date.now();
    assertOneLineError(await runCli(['status', '--meta', `127.0.0.1:${port}`, '--token-file', tokenFile()], s3.env), /unreachable/, 1);
    assert.ok(Date.now() - started < 15_000);
  });

  test('meta on an address in use (exit 1)', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const result = await runCli(['meta', '--listen', `127.0.0.1:${port}`, '--data-dir', join(work, 'meta-busy'), '--token-file', tokenFile()], s3.env, 15_000);
      assertOneLineError(result, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`), 1);
    } finally {
      server.close();
    }
  });
});

describe('TLS files: a missing or invalid one is one line naming the flag and the file (exit 2)', () => {
  let fx: TlsFixture;
  let token: string;
  before(() => {
    const dir = join(work, 'tls');
    mkdirSync(dir);
    fx = makeTlsFixture(dir);
    token = join(dir, 'token');
    writeFileSync(token, 'cli-errors-token\n', { mode: 0o600 });
  });

  test('meta and status list the TLS flags in --help', async () => {
    for (const command of ['meta', 'status']) {
      const result = await runCli([command, '--help'], s3.env);
      for (const flag of TLS_FLAGS) assert.ok(result.stdout.includes(flag), `${command} --help lists ${flag}`);
    }
  });

  test('meta: a key that is not one, a missing CA, a CA without a certificate to serve with', async () => {
    const meta = (tls: string[]) => runCli(['meta', '--listen', '127.0.0.1:0', '--data-dir', join(work, 'meta-tls'), '--token-file', token, ...tls], s3.env, 15_000);
    assertOneLineError(await meta(tlsArgs({ cert: fx.node.cert, key: fx.ca })), /--tls-key .*cluster-ca\.pem: not a PEM private key/, 2);
    assertOneLineError(await meta(tlsArgs({ ...fx.node, ca: join(work, 'no-ca.pem') })), /--tls-ca .*no-ca\.pem: ENOENT/, 2);
    assertOneLineError(await meta(tlsArgs({ ca: fx.ca })), /--tls-ca needs --tls-cert and --tls-key/, 2);
  });

  test('status: a certificate without its key, a key that is not the certificate\'s', async () => {
    const status = (tls: string[]) => runCli(['status', '--meta', '127.0.0.1:1', '--token-file', token, ...tls], s3.env);
    assertOneLineError(await status(tlsArgs({ cert: fx.node.cert })), /--tls-cert needs --tls-key/, 2);
    assertOneLineError(await status(tlsArgs({ cert: fx.node.cert, key: fx.stranger.key })), /--tls-key .*stranger\.key is not the key of --tls-cert .*node\.pem/, 2);
  });

  test('mount: a certificate file that does not exist; nothing left behind', async () => {
    const args = ['--meta', '127.0.0.1:1', '--token-file', token, ...tlsArgs({ cert: join(work, 'no-cert.pem'), key: fx.node.key, ca: fx.ca })];
    await mountFails(`s3://${BUCKET}`, newMountpoint(), /--tls-cert .*no-cert\.pem: ENOENT/, { args, exitCode: 2 });
  });
});
