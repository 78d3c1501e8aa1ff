import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isCachalotError } from '../../src/errors';
import { HttpRangeClient, type HttpClientOptions } from '../../src/object/http-range-client';

const XML_404 = '<Error><Code>NoSuchKey</Code><Message>x</Message></Error>';
// HTTP/1.1 requires a Host header (node's server answers 400 without one); the client sends only what it is given.
const H = { host: 'test' };

interface Served {
  port: number;
  /** Server-side sockets still open. */
  sockets: Set<net.Socket>;
  /** TCP connections accepted so far. */
  connections(): number;
}

/** Listens on 127.0.0.1, port 0; the server and every socket it accepted are closed after the test. */
async function serve(t: TestContext, server: net.Server): Promise<Served> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  server.on('connection', (socket: net.Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, sockets, connections: () => connections };
}

function clientFor(t: TestContext, port: number, options: Partial<HttpClientOptions> = {}, protocol: 'http:' | 'https:' = 'http:') {
  const client = new HttpRangeClient({ protocol, hostname: '127.0.0.1', port }, { maxSockets: 4, timeoutMs: 2000, ...options });
  t.after(() => client.close());
  return client;
}

/**
 * A raw TCP server: calls onRequest with the head of each HTTP request on a
 * socket (numbered from 0 per socket) and leaves the reply to it.
 */
function rawServer(onRequest: (socket: net.Socket, head: string, index: number) => void): net.Server {
  return net.createServer((socket) => {
    let pending = '';
    let index = 0;
    socket.on('error', () => {});
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        onRequest(socket, head, index++);
      }
    });
  });
}

/** An http server answering every GET with `body` as a 206. */
function rangeServer(body: Buffer) {
  const seen: Array<{ url?: string; headers: Record<string, unknown> }> = [];
  const server = createHttpServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    res.writeHead(206, { 'Content-Length': body.length, ETag: '"e-1"', 'X-Amz-Request-Id': 'REQ1', 'Content-Range': `bytes 0-${body.length - 1}/*` });
    res.end(body);
  });
  return { server, seen };
}

test('a 206 body lands byte-exact in `into`, and only there; status and lower-cased headers come back', async (t) => {
  const body = randomBytes(3 * 1024 * 1024 + 123);
  const { server, seen } = rangeServer(body);
  const { port } = await serve(t, server);
  const client = clientFor(t, port);
  // `into` is a view of a larger buffer: the bytes around it must stay untouched.
  const whole = Buffer.alloc(body.length + 64, 0x5c);
  const into = whole.subarray(32, 32 + body.length);
  const reply = await client.send({ path: '/bucket/some%20key', headers: { host: 'example', range: `bytes=0-${body.length - 1}` }, into: [into] });
  assert.equal(reply.status, 206);
  assert.ok(into.equals(body), 'body bytes differ');
  assert.ok(whole.subarray(0, 32).every((b) => b === 0x5c), 'bytes before `into` were written');
  assert.ok(whole.subarray(32 + body.length).every((b) => b === 0x5c), 'bytes after `into` were written');
  assert.equal(reply.headers.get('etag'), '"e-1"');
  assert.equal(reply.headers.get('x-amz-request-id'), 'REQ1');
  assert.equal(reply.headers.get('content-length'), String(body.length));
  for (const name of reply.headers.keys()) assert.equal(name, name.toLowerCase());
  assert.equal(reply.text, undefined);
  // The request went out as asked.
  assert.equal(seen.length, 1);
  assert.equal(seen[0].url, '/bucket/some%20key');
  assert.equal(seen[0].headers.range, `bytes=0-${body.length - 1}`);
  assert.equal(seen[0].headers.host, 'example');
});

test('a HEAD comes back with its status and headers and no body, whatever its content-length says; the connection is reused', async (t) => {
  const methods: string[] = [];
  const server = createHttpServer((req, res) => {
    methods.push(req.method ?? '');
    res.writeHead(req.url === '/missing' ? 404 : 200, { 'Content-Length': 5 * 1024 * 1024, ETag: '"h-1"', 'Last-Modified': 'Sun, 29 Nov 2026 10:00:00 GMT' });
    res.end();
  });
  const served = await serve(t, server);
  const client = clientFor(t, served.port);
  const reply = await client.send({ method: 'HEAD', path: '/k', headers: H, into: [] });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers.get('content-length'), String(5 * 1024 * 1024));
  assert.equal(reply.headers.get('etag'), '"h-1"');
  assert.equal(reply.text, undefined);
  const missing = await client.send({ method: 'HEAD', path: '/missing', headers: H, into: [] });
  assert.equal(missing.status, 404);
  // A GET after the HEADs, on the same connection: nothing of the HEADs' replies is left in its way.
  const into = Buffer.alloc(4);
  server.removeAllListeners('request');
  server.on('request', (_req, res) => (res.writeHead(206, { 'Content-Length': 4 }), res.end('abcd')));
  assert.equal((await client.send({ path: '/k', headers: H, into: [into] })).status, 206);
  assert.equal(into.toString(), 'abcd');
  assert.deepEqual(methods, ['HEAD', 'HEAD']);
  assert.equal(served.connections(), 1);
});

test('bytes after a HEAD reply fail it with BadResponse', async (t) => {
  const { port } = await serve(t, rawServer((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc')));
  const client = clientFor(t, port);
  await assert.rejects(client.send({ method: 'HEAD', path: '/k', headers: H, into: [] }), (err) => isCachalotError(err) && err.code === 'BadResponse');
});

test('a reply trickling in many small writes (head split mid-line, body bytes in the head packet) is assembled exactly', async (t) => {
  const body = randomBytes(40 * 1024 + 7);
  const head = `HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\nETag: "slow"\r\n\r\n`;
  const { port } = await serve(
    t,
    rawServer(async (socket) => {
      // The head in three pieces; the last one carries the first body bytes.
      socket.write(head.slice(0, 10));
      await sleep(5);
      socket.write(head.slice(10, 40));
      await sleep(5);
      socket.write(Buffer.concat([Buffer.from(head.slice(40), 'latin1'), body.subarray(0, 100)]));
      for (let at = 100; at < body.length; at += 997) {
        await sleep(at % 5 === 0 ? 1 : 0);
        if (socket.destroyed) return;
        socket.write(body.subarray(at, Math.min(at + 997, body.length)));
      }
    }),
  );
  const client = clientFor(t, port);
  const into = Buffer.alloc(body.length);
  const reply = await client.send({ path: '/k', headers: H, into: [into] });
  assert.equal(reply.status, 206);
  assert.equal(reply.headers.get('etag'), '"slow"');
  assert.ok(into.equals(body), 'body bytes differ');
});

test('a body spread over several buffers fills each in turn; each is reported full as it fills, before the reply settles', async (t) => {
  // Parts smaller than what the first packet carries, so the body bytes that came with the head span two of them.
  const sizes = [60, 40, 20 * 1024, 7, 20 * 1024 - 100];
  const body = randomBytes(sizes.reduce((a, b) => a + b));
  const head = `HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\n\r\n`;
  let sent = 0;
  const { port } = await serve(
    t,
    rawServer(async (socket) => {
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body.subarray(0, 150)]));
      for (sent = 150; sent < body.length; sent += 997) {
        await sleep(1);
        if (socket.destroyed) return;
        socket.write(body.subarray(sent, Math.min(sent + 997, body.length)));
      }
    }),
  );
  const client = clientFor(t, port);
  const into = sizes.map((size) => Buffer.alloc(size));
  const reported: number[] = [];
  let settled = false;
  let sentAtFirst = -1;
  const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  const reply = client.send({
    path: '/k',
    headers: H,
    into,
    onFilled: (index) => {
      assert.equal(settled, false, `buffer ${index} reported after the reply settled`);
      assert.ok(into[index].equals(body.subarray(offsets[index], offsets[index] + sizes[index])), `buffer ${index} reported before its bytes were in`);
      reported.push(index);
      if (index === 0) sentAtFirst = sent;
    },
  });
  assert.equal((await reply.finally(() => (settled = true))).status, 206);
  assert.deepEqual(reported, [0, 1, 2, 3, 4]);
  assert.ok(Buffer.concat(into).equals(body), 'body bytes differ');
  // The first buffer was reported while the server still had bytes to send.
  assert.ok(sentAtFirst >= 0 && sentAtFirst < body.length, `first buffer reported with ${sentAtFirst} of ${body.length} bytes sent`);
});

test('`check` sees a 2xx reply\'s headers first: what it throws fails the GET, and no byte of the body is written', async (t) => {
  const body = Buffer.from('0123456789');
  const { port } = await serve(t, rangeServer(body).server);
  const client = clientFor(t, port);
  const into = [Buffer.alloc(4, 0x11), Buffer.alloc(6, 0x11)];
  const refused = new Error('changed');
  let filled = 0;
  await assert.rejects(
    client.send({
      path: '/k',
      headers: H,
      into,
      onFilled: () => filled++,
      check: (headers) => {
        if (headers.get('etag') === '"e-1"') throw refused;
      },
    }),
    (err) => err === refused,
  );
  assert.equal(filled, 0);
  assert.ok(into.every((part) => part.every((b) => b === 0x11)), 'body bytes were written');
});

test('keep-alive: sequential GETs reuse one TCP connection', async (t) => {
  const body = randomBytes(64 * 1024);
  const { server } = rangeServer(body);
  const served = await serve(t, server);
  const client = clientFor(t, served.port);
  for (let i = 0; i < 3; i++) {
    const into = Buffer.alloc(body.length);
    assert.equal((await client.send({ path: `/k${i}`, headers: H, into: [into] })).status, 206);
    assert.ok(into.equals(body));
  }
  assert.equal(served.connections(), 1);
});

test('a reply with Connection: close is not reused; the next GET opens a new connection', async (t) => {
  const body = Buffer.from('0123456789');
  const served = await serve(
    t,
    createHttpServer((_req, res) => {
      res.writeHead(206, { 'Content-Length': body.length, Connection: 'close' });
      res.end(body);
    }),
  );
  const client = clientFor(t, served.port);
  for (let i = 0; i < 2; i++) {
    const into = Buffer.alloc(body.length);
    assert.equal((await client.send({ path: '/k', headers: H, into: [into] })).status, 206);
    assert.equal(into.toString(), '0123456789');
  }
  assert.equal(served.connections(), 2);
});

test('maxSockets bounds the requests open at once; the rest wait their turn and all complete', async (t) => {
  let open = 0;
  let maxOpen = 0;
  const served = await serve(
    t,
    createHttpServer((req, res) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      setTimeout(() => {
        const body = Buffer.from(`body of ${req.url}`.padEnd(32, '.'));
        res.writeHead(206, { 'Content-Length': body.length });
        res.end(body, () => open--);
      }, 40);
    }),
  );
  const client = clientFor(t, served.port, { maxSockets: 2 });
  const intos = Array.from({ length: 5 }, () => Buffer.alloc(32));
  const replies = await Promise.all(intos.map((into, i) => client.send({ path: `/k${i}`, headers: H, into: [into] })));
  assert.deepEqual(
    replies.map((r) => r.status),
    [206, 206, 206, 206, 206],
  );
  intos.forEach((into, i) => assert.equal(into.toString(), `body of /k${i}`.padEnd(32, '.')));
  assert.equal(maxOpen, 2, 'two requests should run at once, never more');
  assert.ok(served.connections() <= 2, `${served.connections()} connections for maxSockets 2`);
});

test('a pooled connection the server closed while idle is replaced: the next GET succeeds', async (t) => {
  const body = randomBytes(1000);
  // The server drops each connection just after its reply (node's keepAliveTimeout works in whole seconds).
  const served = await serve(
    t,
    createHttpServer((req, res) => {
      res.writeHead(206, { 'Content-Length': body.length });
      res.end(body, () => setTimeout(() => req.socket.destroy(), 10));
    }),
  );
  const client = clientFor(t, served.port);
  const into = Buffer.alloc(body.length);
  await client.send({ path: '/a', headers: H, into: [into] });
  await sleep(60); // the server closes the idle connection
  into.fill(0);
  assert.equal((await client.send({ path: '/b', headers: H, into: [into] })).status, 206);
  assert.ok(into.equals(body));
  assert.equal(served.connections(), 2);
});

test('a pooled connection the server drops as the next request arrives is retried once on a new connection', async (t) => {
  const body = Buffer.from('abcdefgh');
  let requests = 0;
  const served = await serve(
    t,
    rawServer((socket, _head, index) => {
      requests++;
      // The second request on any connection: drop it without a byte of reply.
      if (index > 0) return socket.destroy();
      socket.write(`HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body);
    }),
  );
  const client = clientFor(t, served.port);
  const into = Buffer.alloc(body.length);
  await client.send({ path: '/a', headers: H, into: [into] });
  into.fill(0);
  assert.equal((await client.send({ path: '/b', headers: H, into: [into] })).status, 206);
  assert.equal(into.toString(), 'abcdefgh');
  assert.equal(served.connections(), 2);
  assert.equal(requests, 3);
});

test('a 404 with an XML body and content-length resolves with status and text; the connection stays usable', async (t) => {
  const body = Buffer.from('0123456789');
  const served = await serve(
    t,
    createHttpServer((req, res) => {
      if (req.url === '/missing') {
        res.writeHead(404, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(XML_404) });
        res.end(XML_404);
      } else {
        res.writeHead(206, { 'Content-Length': body.length });
        res.end(body);
      }
    }),
  );
  const client = clientFor(t, served.port);
  const into = Buffer.alloc(body.length, 0x11);
  const reply = await client.send({ path: '/missing', headers: H, into: [into] });
  assert.equal(reply.status, 404);
  assert.equal(reply.text, XML_404);
  assert.equal(reply.headers.get('content-type'), 'application/xml');
  assert.ok(into.every((b) => b === 0x11), 'an error body must not be written into `into`');
  assert.equal((await client.send({ path: '/present', headers: H, into: [into] })).status, 206);
  assert.equal(into.toString(), '0123456789');
  assert.equal(served.connections(), 1);
});

test('a 503 without content-length, its body ended by the connection closing, resolves with the whole body', async (t) => {
  const xml = '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';
  const served = await serve(
    t,
    rawServer(async (socket) => {
      socket.write('HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nConnection: close\r\n\r\n<Error><Code>Slow');
      await sleep(10);
      socket.write(xml.slice('<Error><Code>Slow'.length));
      await sleep(10);
      socket.end();
    }),
  );
  const client = clientFor(t, served.port);
  const reply = await client.send({ path: '/k', headers: H, into: [Buffer.alloc(10)] });
  assert.equal(reply.status, 503);
  assert.equal(reply.text, xml);
  // And the client still works afterwards, on a new connection.
  assert.equal((await client.send({ path: '/k', headers: H, into: [Buffer.alloc(10)] })).text, xml);
  assert.equal(served.connections(), 2);
});

test('a non-2xx reply with a chunked body on a kept-alive connection resolves (it does not wait for a timeout)', async (t) => {
  const served = await serve(
    t,
    createHttpServer((_req, res) => {
      // No content-length: node sends this chunked and keeps the connection open.
      res.writeHead(403, { 'Content-Type': 'application/xml' });
      res.write('<Error><Code>AccessDenied</Code>');
      setTimeout(() => res.end('<Message>Access Denied</Message></Error>'), 5);
    }),
  );
  const client = clientFor(t, served.port, { timeoutMs: 3000 });
  const started = Date.now();
  const reply = await client.send({ path: '/k', headers: H, into: [Buffer.alloc(10)] });
  assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  assert.equal(reply.status, 403);
  assert.equal(reply.text, '<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
});

test('a chunked error body split at awkward places, ended by Connection: close, comes back decoded', async (t) => {
  const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
  const wire = `${(40).toString(16)}\r\n${xml.slice(0, 40)}\r\n${(xml.length - 40).toString(16)};ext=1\r\n${xml.slice(40)}\r\n0\r\n\r\n`;
  const served = await serve(
    t,
    rawServer(async (socket) => {
      socket.write('HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
      // Cuts inside the first size line, inside the data, inside the second size line and in the last chunk.
      let at = 0;
      for (const cut of [1, 3, 44, 47, 60, wire.length - 3, wire.length]) {
        socket.write(wire.slice(at, cut));
        at = cut;
        await sleep(3);
      }
      socket.end();
    }),
  );
  const client = clientFor(t, served.port);
  const reply = await client.send({ path: '/k', headers: H, into: [Buffer.alloc(10)] });
  assert.equal(reply.status, 403);
  assert.equal(reply.text, xml);
});

test('a long error body is cut at about 64 KiB and its connection is not reused', async (t) => {
  const big = Buffer.alloc(1024 * 1024, 'e');
  const served = await serve(
    t,
    createHttpServer((req, res) => {
      req.socket.on('error', () => {});
      res.on('error', () => {});
      res.writeHead(500, { 'Content-Length': big.length });
      res.end(big);
    }),
  );
  const client = clientFor(t, served.port);
  for (let i = 0; i < 2; i++) {
    const reply = await client.send({ path: '/k', headers: H, into: [Buffer.alloc(10)] });
    assert.equal(reply.status, 500);
    assert.ok(reply.text !== undefined && reply.text.length >= 64 * 1024 && reply.text.length < big.length, `text of ${reply.text?.length} bytes`);
    assert.match(reply.text, /^e+$/);
  }
  assert.equal(served.connections(), 2);
});

test('a 2xx whose content-length differs from into.length rejects with BadResponse', async (t) => {
  const served = await serve(
    t,
    rawServer((socket, head) => {
      const path = head.split(' ')[1];
      if (path === '/longer') socket.write('HTTP/1.1 206 Partial Content\r\nContent-Length: 12\r\n\r\n0123456789ab');
      else if (path === '/shorter') socket.write('HTTP/1.1 206 Partial Content\r\nContent-Length: 8\r\n\r\n01234567');
      else if (path === '/chunked') socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n');
      else if (path === '/extra') socket.write('HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\n\r\n0123456789EXTRA');
    }),
  );
  const client = clientFor(t, served.port);
  for (const path of ['/longer', '/shorter', '/chunked', '/extra']) {
    const into = Buffer.alloc(10);
    await assert.rejects(client.send({ path, headers: H, into: [into] }), (err) => isCachalotError(err, 'BadResponse'), path);
  }
});

test('a reply that is not HTTP rejects with BadResponse', async (t) => {
  const served = await serve(t, rawServer((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n')));
  const client = clientFor(t, served.port);
  await assert.rejects(client.send({ path: '/k', headers: H, into: [Buffer.alloc(1)] }), (err) => isCachalotError(err, 'BadResponse'));
});

test('a server that accepts and never answers: Timeout after about timeoutMs', async (t) => {
  const served = await serve(t, net.createServer(() => {}));
  const client = clientFor(t, served.port, { timeoutMs: 200 });
  const started = Date.now();
  await assert.rejects(client.send({ path: '/k', headers: H, into: [Buffer.alloc(10)] }), (err) => isCachalotError(err, 'Timeout'));
  const took = Date.now() - started;
  assert.ok(took >= 150 && took < 1500, `timed out after ${took} ms`);
});

test('a body that stalls half way: Timeout, counted from the last byte', async (t) => {
  const served = await serve(
    t,
    rawServer((socket) => {
      socket.write('HTTP/1.1 206 Partial Content\r\nContent-Length: 100\r\n\r\n');
      socket.write(Buffer.alloc(50));
    }),
  );
  const client = clientFor(t, served.port, { timeoutMs: 200 });
  const started = Date.now();
  await assert.rejects(client.send({ path: '/k', headers: H, into: [Buffer.alloc(100)] }), (err) => isCachalotError(err, 'Timeout'));
  assert.ok(Date.now() - started < 1500);
});

test('a server that sends half the body and then drops the connection: the GET rejects', async (t) => {
  const body = randomBytes(256 * 1024);
  const served = await serve(
    t,
    rawServer(async (socket) => {
      socket.write(`HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body.subarray(0, body.length / 2));
      await sleep(20);
      socket.destroy();
    }),
  );
  const client = clientFor(t, served.port);
  const outcome = await client.send({ path: '/k', headers: H, into: [Buffer.alloc(body.length)] }).then(
    (reply) => ({ reply }),
    (err: unknown) => ({ err }),
  );
  assert.ok('err' in outcome, `resolved: ${JSON.stringify('reply' in outcome && outcome.reply.status)}`);
  assert.ok(outcome.err instanceof Error);
});

test('a body dropped half way on a reused connection rejects too, and is not sent again', async (t) => {
  const body = randomBytes(64 * 1024);
  let requests = 0;
  const served = await serve(
    t,
    rawServer((socket, _head, index) => {
      requests++;
      socket.write(`HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\n\r\n`);
      if (index === 0) return void socket.write(body);
      socket.write(body.subarray(0, 1000), () => socket.destroy());
    }),
  );
  const client = clientFor(t, served.port);
  await client.send({ path: '/a', headers: H, into: [Buffer.alloc(body.length)] });
  await assert.rejects(client.send({ path: '/b', headers: H, into: [Buffer.alloc(body.length)] }), Error);
  assert.equal(requests, 2);
  assert.equal(served.connections(), 1);
});

test('a refused connection rejects', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  const client = clientFor(t, port);
  await assert.rejects(client.send({ path: '/k', headers: H, into: [Buffer.alloc(1)] }), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
});

test('aborting a GET the server does not answer rejects promptly with the abort reason', async (t) => {
  const served = await serve(t, net.createServer(() => {}));
  const client = clientFor(t, served.port, { timeoutMs: 5000 });
  const controller = new AbortController();
  const reason = new Error('caller gave up');
  setTimeout(() => controller.abort(reason), 50);
  const started = Date.now();
  await assert.rejects(client.send({ path: '/k', headers: H, into: [Buffer.alloc(10)], signal: controller.signal }), (err) => err === reason);
  assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
});

test('aborting in the middle of a body rejects promptly and closes the connection', async (t) => {
  const served = await serve(
    t,
    rawServer((socket) => {
      socket.write('HTTP/1.1 206 Partial Content\r\nContent-Length: 100000\r\n\r\n');
      socket.write(Buffer.alloc(30000));
    }),
  );
  const client = clientFor(t, served.port, { timeoutMs: 5000 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  const started = Date.now();
  await assert.rejects(client.send({ path: '/k', headers: H, into: [Buffer.alloc(100000)], signal: controller.signal }), (err: Error) => err.name === 'AbortError');
  assert.ok(Date.now() - started < 1000);
  await sleep(50);
  assert.equal(served.sockets.size, 0, 'the aborted connection is still open');
});

test('a GET whose signal is already aborted rejects and leaves no connection open', async (t) => {
  const served = await serve(t, net.createServer(() => {}));
  const client = clientFor(t, served.port);
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(client.send({ path: '/k', headers: H, into: [Buffer.alloc(1)], signal: controller.signal }), (err: Error) => err.name === 'AbortError');
  await sleep(100);
  assert.equal(served.sockets.size, 0, 'a connection was left open');
});

test('aborting a GET on a reused connection leaves no connection open', async (t) => {
  const served = await serve(
    t,
    rawServer((socket, _head, index) => {
      if (index === 0) socket.write('HTTP/1.1 206 Partial Content\r\nContent-Length: 1\r\n\r\nx');
      // later requests: no answer
    }),
  );
  const client = clientFor(t, served.port, { timeoutMs: 5000 });
  await client.send({ path: '/a', headers: H, into: [Buffer.alloc(1)] });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 30);
  await assert.rejects(client.send({ path: '/b', headers: H, into: [Buffer.alloc(1)], signal: controller.signal }), (err: Error) => err.name === 'AbortError');
  client.close();
  await sleep(100);
  assert.equal(served.sockets.size, 0, 'a connection was left open');
});

function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
}

/** A self-signed certificate for 127.0.0.1 and localhost, in a temporary directory removed after the test. */
function selfSigned(t: TestContext): { key: Buffer; cert: Buffer; certPath: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'cachalot-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-days', '1', '-keyout', keyPath, '-out', certPath],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  assert.equal(made.status, 0, `openssl failed: ${made.stderr}`);
  return { key: readFileSync(keyPath), cert: readFileSync(certPath), certPath };
}

test('https: a server whose certificate is not trusted is refused', async (t) => {
  if (!hasOpenssl()) return t.skip('openssl is not on PATH');
  const { key, cert } = selfSigned(t);
  let requests = 0;
  const served = await serve(
    t,
    createHttpsServer({ key, cert }, (_req, res) => {
      requests++;
      res.writeHead(206, { 'Content-Length': 1 });
      res.end('x');
    }),
  );
  const client = clientFor(t, served.port, {}, 'https:');
  await assert.rejects(client.send({ path: '/k', headers: H, into: [Buffer.alloc(1)] }), (err: NodeJS.ErrnoException) => /CERT|certificate/i.test(`${err.code} ${err.message}`));
  assert.equal(requests, 0);
});

test('https: with the certificate trusted (NODE_EXTRA_CA_CERTS, in a child process) a GET reads the body', async (t) => {
  if (!hasOpenssl()) return t.skip('openssl is not on PATH');
  // The client takes no CA option and node reads NODE_EXTRA_CA_CERTS only at
  // startup, so the trusting client runs in a child process.
  const { key, cert, certPath } = selfSigned(t);
  const body = randomBytes(1024 * 1024);
  const served = await serve(
    t,
    createHttpsServer({ key, cert }, (_req, res) => {
      res.writeHead(206, { 'Content-Length': body.length, ETag: '"tls"' });
      res.end(body);
    }),
  );
  const modulePath = require.resolve('../../src/object/http-range-client');
  const script = `
    const { createHash } = require('node:crypto');
    const { HttpRangeClient } = require(${JSON.stringify(modulePath)});
    (async () => {
      const out = [];
      for (const hostname of ['127.0.0.1', 'localhost']) {
        const client = new HttpRangeClient({ protocol: 'https:', hostname, port: ${served.port} }, { maxSockets: 1, timeoutMs: 3000 });
        const into = Buffer.alloc(${body.length});
        try {
          const first = await client.send({ path: '/a', headers: { host: 'test' }, into: [into] });
          const second = await client.send({ path: '/b', headers: { host: 'test' }, into: [into] });
          out.push({ hostname, status: [first.status, second.status], etag: second.headers.get('etag'), sha: createHash('sha256').update(into).digest('hex') });
        } catch (err) {
          out.push({ hostname, error: String(err && err.code) + ' ' + String(err && err.message) });
        } finally {
          client.close();
        }
      }
      process.stdout.write(JSON.stringify(out));
    })();
  `;
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath }, timeout: 8000 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
    ),
  );
  const sha = (await import('node:crypto')).createHash('sha256').update(body).digest('hex');
  const results = JSON.parse(stdout) as Array<{ hostname: string; status?: number[]; etag?: string; sha?: string; error?: string }>;
  // 127.0.0.1 (IP SAN, no SNI) must work; localhost only where it resolves to the IPv4 address we listen on.
  const byIp = results.find((r) => r.hostname === '127.0.0.1');
  assert.deepEqual(byIp, { hostname: '127.0.0.1', status: [206, 206], etag: '"tls"', sha });
  const byName = results.find((r) => r.hostname === 'localhost');
  if (byName?.error === undefined || !/ECONNREFUSED/.test(byName.error)) {
    assert.deepEqual(byName, { hostname: 'localhost', status: [206, 206], etag: '"tls"', sha });
  }
  assert.ok(served.connections() <= 2, `${served.connections()} connections for two clients of two GETs each`);
});
