// A fault-injecting HTTP proxy between a mount (--endpoint the proxy) and
// s3rver, on 127.0.0.1 with a port of its own choosing. It answers a
// configurable share of requests with what a struggling S3 sends: 503
// SlowDown, 500 InternalError (S3 XML error bodies), or a connection dropped in
// the middle of the body (after the request reached s3rver: it acted, the
// answer is lost), or a 200 whose body is an S3 error (how S3 answers a
// CompleteMultipartUpload or a copy that failed after its status line; the
// request does not reach s3rver). Decisions come from a seeded PRNG so a run
// reproduces.
//
// It can also add keys to listings ("extra keys"): keys S3 accepts but s3rver
// cannot store, because it keeps objects as files (path.join folds "a//b",
// "x/./y" and "x/../y"; a 300-byte segment is longer than NAME_MAX). Extra keys
// appear in ListObjectsV2 answers only, rolled up by the delimiter as S3 does.
import { createServer, request as httpRequest, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { makeRng } from './e2e-helpers';

export type FaultKind = 'slowdown' | 'internal' | 'drop' | 'error-200';
export type S3Operation =
  | 'head-bucket'
  | 'list'
  | 'head-object'
  | 'get-object'
  | 'put-object'
  | 'copy-object'
  | 'create-upload'
  | 'upload-part'
  | 'complete-upload'
  | 'abort-upload'
  | 'delete-object'
  | 'other';

export interface RequestInfo {
  method: string;
  op: S3Operation;
  bucket: string;
  /** Decoded object key ('' for bucket-level requests). */
  key: string;
  query: URLSearchParams;
  range?: string;
}

export interface FaultPolicy {
  /** Share of matching requests that fail, 0..1 (1 = every one). */
  rate: number;
  /** Faults to inject, taking turns. */
  kinds: FaultKind[];
  /** Which requests may fail; all when omitted. */
  match?: (request: RequestInfo) => boolean;
  /**
   * At most this many failures in a row for one request (same method, URL and
   * range); the next try passes. Keeps a retrying client's success certain
   * rather than likely. Unbounded when omitted.
   */
  maxConsecutive?: number;
}

export interface ExtraKey {
  key: string;
  size: number;
}

export interface ProxyStats {
  requests: number;
  byOp: Record<S3Operation, number>;
  faults: Record<FaultKind, number>;
  /** Faults by operation. */
  faultsByOp: Record<S3Operation, number>;
  /** Requests seen per object key (GET object only). */
  getsByKey: Map<string, number>;
  /** Folder listings (ListObjects with a delimiter, first pages only) per prefix. */
  folderListings: Map<string, number>;
}

export interface FaultyProxy {
  endpoint: string;
  port: number;
  setPolicy(policy: FaultPolicy | undefined): void;
  setExtraKeys(bucket: string, keys: ExtraKey[]): void;
  /** Holds each matching request this long before it goes on (a slow S3); none when undefined. */
  setDelay(delay: { ms: number; match: (request: RequestInfo) => boolean } | undefined): void;
  readonly stats: ProxyStats;
  resetStats(): void;
  stop(): Promise<void>;
}

const ERROR_BODIES: Record<Exclude<FaultKind, 'drop'>, { status: number; code: string; message: string }> = {
  slowdown: { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
  internal: { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
  'error-200': { status: 200, code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
};

function emptyStats(): ProxyStats {
  const ops = (): Record<S3Operation, number> => ({
    'head-bucket': 0,
    list: 0,
    'head-object': 0,
    'get-object': 0,
    'put-object': 0,
    'copy-object': 0,
    'create-upload': 0,
    'upload-part': 0,
    'complete-upload': 0,
    'abort-upload': 0,
    'delete-object': 0,
    other: 0,
  });
  return { requests: 0, byOp: ops(), faults: { slowdown: 0, internal: 0, drop: 0, 'error-200': 0 }, faultsByOp: ops(), getsByKey: new Map(), folderListings: new Map() };
}

/** Path-style S3 request: /BUCKET[/KEY...]. */
export function describeRequest(req: IncomingMessage): RequestInfo {
  const url = new URL(req.url ?? '/', 'http://proxy');
  const parts = url.pathname.split('/');
  const bucket = decodeURIComponent(parts[1] ?? '');
  const key = parts.length > 2 ? decodeURIComponent(parts.slice(2).join('/')) : '';
  const method = req.method ?? 'GET';
  const query = url.searchParams;
  let op: S3Operation = 'other';
  if (key === '' && method === 'HEAD') op = 'head-bucket';
  else if (key === '' && method === 'GET' && (query.has('list-type') || query.has('prefix') || query.has('delimiter'))) op = 'list';
  else if (key !== '') op = objectOperation(method, query, 'x-amz-copy-source' in req.headers);
  const range = req.headers.range;
  return { method, op, bucket, key, query, range: typeof range === 'string' ? range : undefined };
}

function objectOperation(method: string, query: URLSearchParams, copy: boolean): S3Operation {
  const upload = query.has('uploadId');
  switch (method) {
    case 'HEAD':
      return 'head-object';
    case 'GET':
      return 'get-object';
    case 'PUT':
      if (upload) return 'upload-part';
      return copy ? 'copy-object' : 'put-object';
    case 'POST':
      if (upload) return 'complete-upload';
      return query.has('uploads') ? 'create-upload' : 'other';
    case 'DELETE':
      return upload ? 'abort-upload' : 'delete-object';
    default:
      return 'other';
  }
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
const xmlUnescape = (s: string) =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Adds extra keys to one ListObjectsV2 answer, rolled up by the delimiter as S3 does. */
export function addExtraKeys(xml: string, query: URLSearchParams, extra: ExtraKey[]): string {
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const existingPrefixes = new Set([...xml.matchAll(/<CommonPrefixes>\s*<Prefix>([\s\S]*?)<\/Prefix>\s*<\/CommonPrefixes>/g)].map((m) => xmlUnescape(m[1])));
  const existingKeys = new Set([...xml.matchAll(/<Contents>[\s\S]*?<Key>([\s\S]*?)<\/Key>/g)].map((m) => xmlUnescape(m[1])));
  const contents: string[] = [];
  const prefixes: string[] = [];
  for (const { key, size } of extra) {
    if (!key.startsWith(prefix)) continue;
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (cut !== -1) {
      const rollup = key.slice(0, cut + delimiter.length);
      if (!existingPrefixes.has(rollup)) {
        existingPrefixes.add(rollup);
        prefixes.push(`<CommonPrefixes><Prefix>${xmlEscape(rollup)}</Prefix></CommonPrefixes>`);
      }
    } else if (!existingKeys.has(key)) {
      existingKeys.add(key);
      contents.push(
        `<Contents><Key>${xmlEscape(key)}</Key><LastModified>2020-01-01T00:00:00.000Z</LastModified>` +
          `<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
      );
    }
  }
  if (contents.length === 0 && prefixes.length === 0) return xml;
  return xml.replace('</ListBucketResult>', `${contents.join('')}${prefixes.join('')}</ListBucketResult>`);
}

export async function startFaultyProxy(upstream: string, options: { seed?: number } = {}): Promise<FaultyProxy> {
  const target = new URL(upstream);
  const rng = makeRng(options.seed ?? 12345);
  let policy: FaultPolicy | undefined;
  let delay: { ms: number; match: (request: RequestInfo) => boolean } | undefined;
  const extraKeys = new Map<string, ExtraKey[]>();
  const failuresInARow = new Map<string, number>();
  let kindTurn = 0;
  let stats = emptyStats();
  const sockets = new Set<Socket>();

  const chooseFault = (info: RequestInfo, req: IncomingMessage): FaultKind | undefined => {
    if (!policy || policy.kinds.length === 0 || policy.rate <= 0) return undefined;
    if (policy.match && !policy.match(info)) return undefined;
    const id = `${info.method} ${req.url} ${info.range ?? ''}`;
    const inARow = failuresInARow.get(id) ?? 0;
    if (policy.maxConsecutive !== undefined && inARow >= policy.maxConsecutive) {
      failuresInARow.delete(id);
      return undefined;
    }
    if (policy.rate < 1 && rng.next() >= policy.rate) {
      failuresInARow.delete(id);
      return undefined;
    }
    failuresInARow.set(id, inARow + 1);
    // Kinds take turns, so every kind of a mix is injected once a few faults have been.
    return policy.kinds[kindTurn++ % policy.kinds.length];
  };

  const forward = (req: IncomingMessage, body: Buffer, onResponse: (res: IncomingMessage) => void, onError: (err: Error) => void) => {
    const upstreamReq = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      onResponse,
    );
    upstreamReq.on('error', onError);
    upstreamReq.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const info = describeRequest(req);
    stats.requests++;
    stats.byOp[info.op]++;
    if (info.op === 'get-object') stats.getsByKey.set(info.key, (stats.getsByKey.get(info.key) ?? 0) + 1);
    if (info.op === 'list' && info.query.has('delimiter') && !info.query.has('continuation-token')) {
      const prefix = info.query.get('prefix') ?? '';
      stats.folderListings.set(prefix, (stats.folderListings.get(prefix) ?? 0) + 1);
    }
    const fault = chooseFault(info, req);
    if (fault) {
      stats.faults[fault]++;
      stats.faultsByOp[info.op]++;
    }
    const fail = () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    };

    if (fault === 'slowdown' || fault === 'internal' || fault === 'error-200') {
      const { status, code, message } = ERROR_BODIES[fault];
      const xml =
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<Error><Code>${code}</Code><Message>${message}</Message><RequestId>faulty-proxy</RequestId></Error>`;
      if (req.method === 'HEAD') {
        res.writeHead(status, { 'content-type': 'application/xml' }).end();
      } else {
        res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) }).end(xml);
      }
      return;
    }

    const extra = extraKeys.get(info.bucket);
    const rewriteListing = info.op === 'list' && extra !== undefined && !info.query.has('continuation-token');
    if (fault === 'drop' || rewriteListing) {
      // Buffer the whole answer, then send it (rewritten) or only its first half.
      forward(
        req,
        body,
        (upstreamRes) => {
          const chunks: Buffer[] = [];
          upstreamRes.on('data', (c: Buffer) => chunks.push(c));
          upstreamRes.on('error', fail);
          upstreamRes.on('end', () => {
            let answer = Buffer.concat(chunks);
            const headers = { ...upstreamRes.headers };
            if (rewriteListing && (upstreamRes.statusCode ?? 500) < 300) {
              answer = Buffer.from(addExtraKeys(answer.toString('utf8'), info.query, extra!), 'utf8');
              headers['content-length'] = String(answer.length);
              delete headers['transfer-encoding'];
            }
            if (fault !== 'drop') {
              res.writeHead(upstreamRes.statusCode ?? 500, headers).end(answer);
              return;
            }
            if (answer.length < 2) {
              // Nothing to cut in half: drop before the status line.
              res.socket?.destroy();
              return;
            }
            res.writeHead(upstreamRes.statusCode ?? 500, headers);
            res.write(answer.subarray(0, Math.floor(answer.length / 2)), () => res.socket?.destroy());
          });
        },
        fail,
      );
      return;
    }

    forward(
      req,
      body,
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 500, upstreamRes.headers);
        upstreamRes.pipe(res);
        upstreamRes.on('error', () => res.destroy());
      },
      fail,
    );
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const held = delay && delay.match(describeRequest(req)) ? delay.ms : 0;
      if (held === 0) return handle(req, res, Buffer.concat(chunks));
      setTimeout(() => handle(req, res, Buffer.concat(chunks)), held);
    });
    req.on('error', () => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    setPolicy: (p) => {
      policy = p;
      failuresInARow.clear();
    },
    setExtraKeys: (bucket, keys) => extraKeys.set(bucket, keys),
    setDelay: (d) => (delay = d),
    get stats() {
      return stats;
    },
    resetStats: () => {
      stats = emptyStats();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
