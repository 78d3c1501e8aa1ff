// TLS and mutual TLS for meta and the peer service, over real gRPC on
// 127.0.0.1 with certificates made by openssl for the test: the PEM files
// checked at start, calls that succeed with bytes checked, and every way a
// connection is refused as one line (the peer's failure passed over by the
// read path). Every server is stopped in after().
import { crc32c } from '@node-rs/crc32';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BlockBuffer, BufferPool } from '../../src/block/block-buffer';
import type { BlockRequest, BlockSource } from '../../src/block/types';
import { describeTls, readTls } from '../../src/rpc/grpc-tls';
import type { ClusterTls, TlsFiles } from '../../src/rpc/types';
import { PeerClient } from '../../src/cluster/peer-client';
import { startPeerServer, type PeerServer } from '../../src/cluster/peer-server';
import { PeerSource, type PeerOutcome } from '../../src/cluster/peer-source';
import { ErrorCode, isCachalotError } from '../../src/errors';
import { watchListingChanges } from '../../src/meta/listing-watch';
import { createMetaClient } from '../../src/meta/meta-client';
import { startMetaServer, type MetaServer } from '../../src/meta/meta-server';
import { MemoryStore } from '../../src/object/memory-store';
import { silentLogger } from '../../src/obs/logger';
import { waitFor } from '../support/e2e-helpers';
import { makeTlsFixture, type TlsFixture } from '../support/tls-fixture';

const TOKEN = 'tls-test-secret';
const BLOCK = 2 * 1024 * 1024 + 5;
const bytes = Buffer.from(Array.from({ length: BLOCK }, (_, i) => (i * 13 + 1) & 0xff));
const request: BlockRequest = { bucket: 'b', key: 'k', etag: '"e"', index: 0, objectSize: BLOCK, blockSize: 4 * 1024 * 1024 };
const honest: BlockSource = { load: async () => Object.assign(BlockBuffer.wrap(Buffer.from(bytes)), { crc32c: crc32c(bytes) }) };
const pool = new BufferPool({ size: 4 * 1024 * 1024 });

let work: string;
let fx: TlsFixture;
/** What a node of the cluster uses: its certificate and the cluster CA. */
let mutual: TlsFiles;
const peers: PeerServer[] = [];
const metas: MetaServer[] = [];

before(() => {
  work = mkdtempSync(join(tmpdir(), 'cachalot-tls-unit-'));
  fx = makeTlsFixture(work);
  mutual = { ...fx.node, ca: fx.ca };
});

after(async () => {
  for (const server of peers) await server.stop();
  for (const server of metas) await server.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A file in the test's directory. */
function file(name: string, text: string | Buffer): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

function assertRefused(files: TlsFiles, serves: boolean, pattern: RegExp): void {
  assert.throws(
    () => readTls(files, serves),
    (err: unknown) => isCachalotError(err, 'InvalidConfig') && pattern.test(err.message) && !err.message.includes('\n'),
    `${JSON.stringify(files)}: ${pattern}`,
  );
}

describe('the PEM files are read and checked once, at start', () => {
  test('none: plain TCP; a certificate and key: TLS; with a CA: mutual TLS; a CA alone: a client that checks the server', () => {
    assert.equal(readTls({}, true), undefined);
    assert.equal(describeTls(undefined), 'plain TCP');
    assert.equal(describeTls(readTls(fx.node, true)), 'TLS');
    const tls = readTls(mutual, true)!;
    assert.equal(describeTls(tls), 'mutual TLS');
    assert.ok(tls.cert!.equals(readFileSync(fx.node.cert)) && tls.key!.equals(readFileSync(fx.node.key)) && tls.ca!.equals(readFileSync(fx.ca)));
    assert.deepEqual(Object.keys(readTls({ ca: fx.ca }, false)!), ['ca']);
    // A CA bundle of several certificates.
    assert.ok(readTls({ ca: file('bundle.pem', Buffer.concat([readFileSync(fx.ca), readFileSync(fx.otherCa)])) }, false));
  });

  test('flags that do not go together', () => {
    assertRefused({ cert: fx.node.cert }, false, /^--tls-cert needs --tls-key$/);
    assertRefused({ key: fx.node.key, ca: fx.ca }, false, /^--tls-key needs --tls-cert$/);
    assertRefused({ ca: fx.ca }, true, /^--tls-ca needs --tls-cert and --tls-key to serve TLS with$/);
  });

  test('a missing, empty or invalid file: one line naming the flag and the file', () => {
    const missing = join(work, 'nope.pem');
    assertRefused({ ...fx.node, ca: missing }, true, new RegExp(`^--tls-ca ${missing}: ENOENT$`));
    assertRefused({ cert: missing, key: fx.node.key }, true, /^--tls-cert .*nope\.pem: ENOENT$/);
    assertRefused({ cert: fx.node.cert, key: missing }, true, /^--tls-key .*nope\.pem: ENOENT$/);
    assertRefused({ cert: work, key: fx.node.key }, true, /^--tls-cert .*: EISDIR$/);
    const empty = file('empty.pem', '');
    assertRefused({ ca: empty }, false, /^--tls-ca .*empty\.pem: no PEM certificate in it$/);
    assertRefused({ cert: fx.node.key, key: fx.node.key }, false, /^--tls-cert .*node\.key: no PEM certificate in it$/);
    // A certificate whose body was damaged.
    const pem = readFileSync(fx.node.cert, 'latin1');
    const damaged = file('damaged.pem', pem.replace(/\n[A-Za-z0-9+/]{20}/, '\n' + '!'.repeat(20)));
    assertRefused({ cert: damaged, key: fx.node.key }, false, /^--tls-cert .*damaged\.pem: certificate 1 is not valid PEM$/);
    assertRefused({ ca: file('ca-and-junk.pem', readFileSync(fx.ca, 'latin1') + pem.replace(/\n[A-Za-z0-9+/]{20}/, '\n' + '!'.repeat(20))) }, false, /certificate 2 is not valid PEM/);
    assertRefused({ cert: fx.node.cert, key: fx.node.cert }, false, /^--tls-key .*node\.pem: not a PEM private key/);
    assertRefused({ cert: fx.node.cert, key: fx.stranger.key }, false, /^--tls-key .*stranger\.key is not the key of --tls-cert .*node\.pem$/);
  });
});

// The certificates are for 127.0.0.1: every server listens there, and clients call it by that IP.
async function peer(tls: ClusterTls | undefined): Promise<string> {
  const server = await startPeerServer({ listen: '127.0.0.1:0', token: TOKEN, tls, source: honest, log: silentLogger });
  peers.push(server);
  return server.address;
}

async function meta(tls: ClusterTls | undefined): Promise<string> {
  const server = await startMetaServer({ listen: '127.0.0.1:0', dataDir: join(work, `meta-${metas.length}`), token: TOKEN, tls, leaseMs: 5000, origin: { region: 'us-east-1' }, listing: { stores: () => new MemoryStore(), ttlMs: 60_000, maxEntries: 1000 }, log: silentLogger });
  metas.push(server);
  return server.address;
}

/** Fetches the block from address as a client with tls; the block's bytes, or the error (which must be one line). */
async function fetchBlock(address: string, tls: ClusterTls | undefined, token = TOKEN): Promise<Buffer | Error> {
  const client = new PeerClient({ token, tls, pool, timeoutMs: 5000 });
  try {
    const block = await client.fetch(address, request);
    const copy = Buffer.from(block.bytes);
    block.release();
    return copy;
  } catch (err) {
    return err as Error;
  } finally {
    client.close();
  }
}

/** Asks meta for its members as a client with tls; the epoch, or the error. */
async function askMeta(address: string, tls: ClusterTls | undefined): Promise<number | Error> {
  const client = createMetaClient(address, TOKEN, { tls });
  try {
    return (await client.members(3000)).epoch;
  } catch (err) {
    return err as Error;
  } finally {
    client.close();
  }
}

function assertFailed(result: unknown, code: ErrorCode, pattern: RegExp): void {
  assert.ok(isCachalotError(result, code), `${code}, not ${String(result)}`);
  assert.match(result.message, pattern);
  assert.ok(!result.message.includes('\n'), `one line: ${JSON.stringify(result.message)}`);
}

describe('calls over TLS', () => {
  test('a block from a peer over mutual TLS arrives whole; meta answers over mutual TLS; the token is still checked', async () => {
    const tls = readTls(mutual, true);
    const block = await fetchBlock(await peer(tls), tls);
    assert.ok(Buffer.isBuffer(block) && block.equals(bytes), `the block's bytes: ${String(block)}`);
    const epoch = await askMeta(await meta(tls), tls);
    assert.equal(typeof epoch, 'number', String(epoch));
    assertFailed(await fetchBlock(peers[0].address, tls, 'wrong-secret'), 'PeerFailed', /refused the call: wrong cluster token/);
  });

  test('listing changes travel over mutual TLS; a watch without a client certificate is refused', async () => {
    const tls = readTls(mutual, true);
    const address = await meta(tls);
    const [watcher, announcer] = [createMetaClient(address, TOKEN, { tls }), createMetaClient(address, TOKEN, { tls })];
    const told: string[] = [];
    let resynced = false;
    const watch = watchListingChanges(watcher, 'b', 'bucket', (folder) => told.push(folder), () => (resynced = true), silentLogger);
    try {
      assert.ok(await waitFor(() => resynced, 5000), 'watching over mutual TLS');
      await announcer.listingChanged({ nodeId: 'a', bucket: 'bucket', folders: ['d/'] }, 3000);
      assert.ok(await waitFor(() => told.length === 1, 3000), 'the change arrived');
    } finally {
      watch.stop();
      watcher.close();
      announcer.close();
    }
    const noCertificate = createMetaClient(address, TOKEN, { tls: readTls({ ca: fx.ca }, false) });
    const ended = await new Promise<Error | undefined>((resolve) => noCertificate.watchListings('x', () => assert.fail('watched without a certificate'), resolve));
    noCertificate.close();
    assertFailed(ended, 'Unauthenticated', /TLS handshake failed: .*certificate required/);
  });

  test('TLS without client certificates: a client with only the CA gets the block', async () => {
    const block = await fetchBlock(await peer(readTls(fx.node, true)), readTls({ ca: fx.ca }, false));
    assert.ok(Buffer.isBuffer(block) && block.equals(bytes));
  });

  test('a plain TCP client to a TLS server fails with one line, and so does a TLS client to a plain one', async () => {
    const tls = readTls(mutual, true);
    assertFailed(await fetchBlock(await peer(tls), undefined), 'PeerFailed', /^peer 127\.0\.0\.1:\d+ unreachable: it closed the connection during setup \(TLS on one side only/);
    assertFailed(await askMeta(await meta(tls), undefined), 'EndpointUnreachable', /^meta 127\.0\.0\.1:\d+ unreachable: it closed the connection during setup/);
    assertFailed(await askMeta(await meta(undefined), tls), 'Unauthenticated', /^meta 127\.0\.0\.1:\d+: TLS handshake failed: wrong version number \(check --tls-ca/);
  });

  test('mutual TLS refuses a client without a certificate, and one whose certificate another CA signed', async () => {
    const tls = readTls(mutual, true);
    const [peerAddress, metaAddress] = [await peer(tls), await meta(tls)];
    const noCertificate = readTls({ ca: fx.ca }, false);
    assertFailed(await fetchBlock(peerAddress, noCertificate), 'PeerFailed', /TLS handshake failed: .*certificate required/);
    assertFailed(await askMeta(metaAddress, noCertificate), 'Unauthenticated', /^meta .*: TLS handshake failed: .*certificate required/);
    // TLS 1.3: the server refuses the certificate after the client's side of
    // the handshake is done, and grpc-js sees only the connection closing.
    const stranger = readTls({ ...fx.stranger, ca: fx.ca }, false);
    assertFailed(await fetchBlock(peerAddress, stranger), 'PeerFailed', /TLS handshake failed|closed the connection during setup/);
    assertFailed(await askMeta(metaAddress, stranger), 'EndpointUnreachable', /closed the connection during setup/);
  });

  test("a client that does not trust the server's CA refuses it", async () => {
    const server = readTls(mutual, true);
    const untrusting = readTls({ ...fx.node, ca: fx.otherCa }, false);
    assertFailed(await fetchBlock(await peer(server), untrusting), 'PeerFailed', /TLS handshake failed: self-signed certificate in certificate chain/);
    // Without --tls-ca a client trusts Node's root CAs, and the test's CA is none of them.
    assertFailed(await fetchBlock(peers.at(-1)!.address, readTls(fx.node, false)), 'PeerFailed', /TLS handshake failed: (unable to get local issuer certificate|self-signed certificate)/);
    assertFailed(await askMeta(await meta(server), untrusting), 'Unauthenticated', /^meta .*: TLS handshake failed: self-signed certificate in certificate chain/);
  });

  test('a peer refused over TLS is passed over: the read path takes the block from S3', async () => {
    const address = await peer(readTls(mutual, true));
    const outcomes: PeerOutcome[] = [];
    const client = new PeerClient({ token: TOKEN, tls: readTls({ ca: fx.otherCa }, false), pool, timeoutMs: 5000 });
    const source = new PeerSource({
      selfId: 'asker',
      members: () => [{ id: 'owner', address, capacityBytes: 1 }],
      peers: client,
      origin: { load: async () => BlockBuffer.wrap(Buffer.from('from S3')) },
      suspectMs: 30_000,
      log: silentLogger,
      onOutcome: (outcome) => outcomes.push(outcome),
    });
    assert.equal((await source.load(request)).bytes.toString(), 'from S3');
    assert.deepEqual(outcomes, ['peer-failed', 'origin']);
    client.close();
  });
});
