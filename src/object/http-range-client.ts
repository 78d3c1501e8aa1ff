import net from 'node:net';
import tls from 'node:tls';
import { CachalotError } from '../errors';

/**
 * A lean HTTP/1.1 client for the read path's hot requests: a GET whose body
 * is a known number of bytes, and a HEAD. The body is read by the socket
 * straight into the caller's buffers (net's `onread`), so a block costs no
 * chunk allocations, no copies and no HTTP parser callbacks per 64 KiB.
 * The trade-off: an HTTP client of our own to keep correct, against the
 * aws-sdk's GetObject, which costs several times the CPU per byte (its
 * streams, chunks and middleware) and sets its middleware up on a process's
 * first request (docs/BENCHMARKS.md, "Findings"). LIST, with its XML, stays
 * in the sdk, where its cost does not matter.
 *
 * Keep-alive connections are pooled; at most maxSockets requests run at once
 * and the rest wait their turn (explicit backpressure, no unbounded queue of
 * sockets). The client knows nothing about S3: a non-2xx reply comes back with
 * its status, headers and (the first 64 KiB of) its body for the caller to map.
 */
export interface HttpOrigin {
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number;
}

export interface HttpClientOptions {
  maxSockets: number;
  /** No byte for this long, while a request is open: the request fails with Timeout. */
  timeoutMs: number;
  /** An idle pooled connection is closed after this long. */
  idleMs?: number;
}

export interface HttpRequest {
  /** HEAD: the reply's status and headers only, `into` empty. GET when absent. */
  method?: 'HEAD';
  path: string;
  headers: Record<string, string>;
  /** Non-empty buffers that receive the body of a 2xx reply back to back; it must be exactly as long as they are together. */
  into: Buffer[];
  /** Called with each buffer's index as soon as it is full, before the reply settles. */
  onFilled?: (index: number) => void;
  /** Looks at a 2xx reply's headers before any byte of its body is written; what it throws fails the request. */
  check?: (headers: Map<string, string>) => void;
  signal?: AbortSignal;
}

export interface HttpReply {
  status: number;
  /** Lower-cased names. */
  headers: Map<string, string>;
  /** Body text of a non-2xx reply (at most ERROR_BODY_LIMIT bytes). */
  text?: string;
}

const HEADER_LIMIT = 64 * 1024;
const ERROR_BODY_LIMIT = 64 * 1024;
const DEFAULT_IDLE_MS = 4000;

export class HttpRangeClient {
  private readonly idle: Connection[] = [];
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly origin: HttpOrigin,
    private readonly options: HttpClientOptions,
  ) {}

  async send(request: HttpRequest): Promise<HttpReply> {
    await this.turn();
    try {
      // An aborted request must not take a connection: it would never be used or closed.
      request.signal?.throwIfAborted();
      const reused = this.idle.pop();
      if (reused) {
        try {
          return await reused.exchange(request);
        } catch (err) {
          // The server may close a pooled connection as we pick it up: a GET
          // that got no byte back is safe to send again, once, on a new one.
          if (!(err instanceof StaleConnection)) throw err;
        }
      }
      request.signal?.throwIfAborted();
      return await this.connect().exchange(request);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** Closes every pooled connection; requests under way finish or fail on their own. */
  close(): void {
    for (const connection of this.idle.splice(0)) connection.destroy();
  }

  private turn(): Promise<void> {
    if (this.running < this.options.maxSockets) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.running++;
        resolve();
      }),
    );
  }

  private connect(): Connection {
    return new Connection(this.origin, this.options.timeoutMs, this.options.idleMs ?? DEFAULT_IDLE_MS, {
      park: (c) => this.idle.push(c),
      forget: (c) => {
        const at = this.idle.indexOf(c);
        if (at >= 0) this.idle.splice(at, 1);
      },
    });
  }
}

interface ConnectionPool {
  /** The connection is idle and may be reused. */
  park(connection: Connection): void;
  /** The connection closed. */
  forget(connection: Connection): void;
}

/** A reused connection failed before any byte of the reply arrived. */
class StaleConnection extends Error {}

type Phase = 'idle' | 'head' | 'body' | 'error-body';

interface Exchange {
  request: HttpRequest;
  resolve(reply: HttpReply): void;
  reject(err: unknown): void;
  phase: Phase;
  reply?: HttpReply;
  /** Body bytes expected (content-length), -1 when the server did not say. */
  bodyLength: number;
  filled: number;
  /** The buffer of request.into the body goes on in, and its bytes written so far. */
  part: number;
  partFilled: number;
  errorChunks: Buffer[];
  gotBytes: boolean;
  keepAlive: boolean;
}

/** One socket; one exchange at a time (no pipelining). */
class Connection {
  private readonly socket: net.Socket;
  private readonly scratch = Buffer.allocUnsafe(HEADER_LIMIT);
  private scratchUsed = 0;
  private current?: Exchange;
  private used = false;
  private closed = false;

  constructor(
    origin: HttpOrigin,
    private readonly timeoutMs: number,
    private readonly idleMs: number,
    private readonly pool: ConnectionPool,
  ) {
    const onread = { buffer: () => this.nextBuffer(), callback: (n: number) => this.onData(n) };
    const target = { host: origin.hostname, port: origin.port, onread };
    this.socket =
      origin.protocol === 'https:'
        ? tls.connect({ ...target, servername: net.isIP(origin.hostname) ? undefined : origin.hostname })
        : net.connect(target);
    this.socket.setNoDelay(true);
    this.socket.on('timeout', () => this.fail(new CachalotError('Timeout', `no reply within ${this.current ? this.timeoutMs : this.idleMs} ms`)));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('close', () => this.fail(Object.assign(new Error('connection closed'), { code: 'ECONNRESET' })));
  }

  exchange(request: HttpRequest): Promise<HttpReply> {
    const reused = this.used;
    this.used = true;
    return new Promise<HttpReply>((resolve, reject) => {
      if (this.closed) return reject(reused ? new StaleConnection() : new Error('connection closed'));
      const { signal } = request;
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => this.fail(signal?.reason ?? new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      const x: Exchange = {
        request,
        resolve: (reply) => (done(), resolve(reply)),
        reject: (err) => (done(), reject(reused && !x.gotBytes ? new StaleConnection() : err)),
        phase: 'head',
        bodyLength: -1,
        filled: 0,
        part: 0,
        partFilled: 0,
        errorChunks: [],
        gotBytes: false,
        keepAlive: true,
      };
      this.current = x;
      this.scratchUsed = 0;
      this.socket.setTimeout(this.timeoutMs);
      let head = `${request.method ?? 'GET'} ${request.path} HTTP/1.1\r\n`;
      for (const [name, value] of Object.entries(request.headers)) head += `${name}: ${value}\r\n`;
      this.socket.write(`${head}\r\n`, 'latin1');
    });
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  /** Where the socket's next read lands: the body in place, anything else in scratch. */
  private nextBuffer(): Buffer {
    const x = this.current;
    if (x?.phase === 'body') return x.request.into[x.part].subarray(x.partFilled);
    if (this.scratchUsed >= this.scratch.length) this.scratchUsed = 0;
    return this.scratch.subarray(this.scratchUsed);
  }

  private onData(n: number): boolean {
    const x = this.current;
    if (!x) {
      this.fail(new Error('server sent bytes on an idle connection'));
      return false;
    }
    x.gotBytes = true;
    if (x.phase === 'body') {
      this.advance(x, n);
    } else if (x.phase === 'head') {
      this.scratchUsed += n;
      this.parseHead(x);
    } else {
      x.errorChunks.push(Buffer.from(this.scratch.subarray(this.scratchUsed, this.scratchUsed + n)));
      this.scratchUsed += n;
      x.filled += n;
    }
    this.settleIfComplete(x);
    return true;
  }

  private parseHead(x: Exchange): void {
    const end = this.scratch.subarray(0, this.scratchUsed).indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.scratchUsed >= HEADER_LIMIT) this.fail(new CachalotError('BadResponse', `reply headers over ${HEADER_LIMIT} bytes`));
      return;
    }
    const lines = this.scratch.toString('latin1', 0, end).split('\r\n');
    const status = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]);
    if (!status) return this.fail(new CachalotError('BadResponse', `not an HTTP/1.x reply: ${lines[0].slice(0, 80)}`));
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const code = Number(status[2]);
    const length = headers.get('content-length');
    x.reply = { status: code, headers };
    x.bodyLength = length === undefined ? -1 : Number(length);
    x.keepAlive = status[1] === '1' && headers.get('connection')?.toLowerCase() !== 'close';
    const early = this.scratch.subarray(end + 4, this.scratchUsed);
    if (x.request.method === 'HEAD') {
      // The reply to a HEAD has no body, whatever its content-length says.
      if (early.length > 0) return this.fail(new CachalotError('BadResponse', 'server sent a body after a HEAD reply'));
      return this.finish(x, x.reply);
    }
    if (code >= 200 && code < 300) {
      const want = x.request.into.reduce((sum, part) => sum + part.length, 0);
      if (x.bodyLength !== want || headers.has('transfer-encoding')) {
        return this.fail(new CachalotError('BadResponse', `HTTP ${code} with a body of ${length ?? 'unknown'} bytes for a range of ${want}`));
      }
      if (early.length > want) return this.fail(new CachalotError('BadResponse', `server sent more than ${want} bytes`));
      try {
        x.request.check?.(headers);
      } catch (err) {
        return this.fail(err);
      }
      x.phase = 'body';
      // Body bytes that came with the headers: a full buffer moves the copy on to the next.
      for (let at = 0; at < early.length; ) {
        const n = early.copy(x.request.into[x.part], x.partFilled, at);
        at += n;
        this.advance(x, n);
      }
    } else {
      x.errorChunks.push(Buffer.from(early));
      x.filled = early.length;
      x.phase = 'error-body';
      this.scratchUsed = 0;
    }
  }

  /** n more body bytes are in the current buffer of request.into: each buffer that is now full is reported, in order. */
  private advance(x: Exchange, n: number): void {
    const parts = x.request.into;
    x.filled += n;
    x.partFilled += n;
    while (x.part < parts.length && x.partFilled === parts[x.part].length) {
      x.request.onFilled?.(x.part);
      x.part++;
      x.partFilled = 0;
    }
  }

  private settleIfComplete(x: Exchange): void {
    if (this.current !== x || !x.reply) return;
    if (x.phase === 'body' && x.filled === x.bodyLength) {
      this.finish(x, x.reply);
    } else if (x.phase === 'error-body') {
      // A chunked body (no content-length: S3 sends some errors so) ends with its last chunk, not with the connection.
      const chunked = isChunked(x.reply);
      const complete = chunked ? dechunk(Buffer.concat(x.errorChunks)).complete : x.bodyLength >= 0 && x.filled >= x.bodyLength;
      if (!complete && x.filled < ERROR_BODY_LIMIT) return;
      // An error's connection is reused only when its whole body was read: the rest would be in the way.
      x.keepAlive = x.keepAlive && !chunked && x.filled === x.bodyLength;
      this.finish(x, { ...x.reply, text: errorText(x) });
    }
  }

  private finish(x: Exchange, reply: HttpReply): void {
    this.current = undefined;
    this.scratchUsed = 0;
    if (x.keepAlive && !this.closed) {
      this.socket.setTimeout(this.idleMs);
      this.pool.park(this);
    } else {
      this.destroy();
    }
    x.resolve(reply);
  }

  private onEnd(): void {
    const x = this.current;
    // A body that runs to the end of the connection (no content-length) ends here.
    if (x?.phase === 'error-body' && x.reply && (x.bodyLength < 0 || isChunked(x.reply))) {
      x.keepAlive = false;
      return this.finish(x, { ...x.reply, text: errorText(x) });
    }
    this.fail(Object.assign(new Error('server closed the connection'), { code: 'ECONNRESET' }));
  }

  private fail(err: unknown): void {
    this.closed = true;
    this.socket.destroy();
    const x = this.current;
    this.current = undefined;
    if (x) x.reject(err);
    else this.pool.forget(this);
  }
}

function isChunked(reply: HttpReply): boolean {
  return /chunked/i.test(reply.headers.get('transfer-encoding') ?? '');
}

function errorText(x: Exchange): string {
  const raw = Buffer.concat(x.errorChunks);
  return (x.reply && isChunked(x.reply) ? dechunk(raw).data : raw).toString('utf8');
}

/** The data of a chunked body read so far, and whether its last (empty) chunk has arrived. Trailers are not read. */
function dechunk(raw: Buffer): { data: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  for (let at = 0; ; ) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(raw.toString('latin1', at, eol), 16);
    if (!(size >= 0)) break;
    if (size === 0) return { data: Buffer.concat(parts), complete: true };
    const start = eol + 2;
    parts.push(raw.subarray(start, Math.min(start + size, raw.length)));
    at = start + size + 2;
    if (at > raw.length) break;
  }
  return { data: Buffer.concat(parts), complete: false };
}
