import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { BadRequest, CachalotError } from '../errors';

/** A route answers GET requests with a JSON value. */
export type ControlRoutes = Record<string, () => Promise<unknown>>;
/** An action answers a POST request's JSON body with a JSON value. */
export type ControlActions = Record<string, (body: unknown) => Promise<unknown>>;

/** A POST body is a batch of block names (docs/WARMUP.md); anything longer is refused, not buffered. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * Serves the daemon's control routes as JSON over HTTP on a Unix socket,
 * readable by the owner only (the socket's folder is 0700): local tools ask,
 * nothing listens on the network. A failure answers `{error, code}` (the
 * CachalotError's code), so that the tool reports it as the daemon saw it.
 */
export async function serveControl(socketPath: string, routes: ControlRoutes, actions: ControlActions = {}): Promise<Server> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  // A socket file left by a daemon that died would make listen fail with EADDRINUSE.
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    const handle = req.method === 'GET' ? routes[path] : req.method === 'POST' && actions[path] ? () => readJson(req).then(actions[path]) : undefined;
    if (!handle) return answer(res, 404, { error: `no route ${req.method} ${path}` });
    handle().then(
      (value) => answer(res, 200, value),
      (err: unknown) => {
        const status = err instanceof BadRequest ? 400 : 500;
        answer(res, status, { error: err instanceof Error ? err.message : String(err), code: err instanceof CachalotError ? err.code : undefined });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  chmodSync(socketPath, 0o600);
  return server;
}

function answer(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const pieces: Buffer[] = [];
  let length = 0;
  for await (const piece of req as AsyncIterable<Buffer>) {
    length += piece.length;
    if (length > MAX_BODY_BYTES) {
      req.destroy();
      throw new BadRequest(`a request body over ${MAX_BODY_BYTES} bytes`);
    }
    pieces.push(piece);
  }
  try {
    return JSON.parse(Buffer.concat(pieces, length).toString('utf8'));
  } catch {
    throw new BadRequest('the request body is not JSON');
  }
}
