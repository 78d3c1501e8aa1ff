import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { dirname } from 'node:path';

/** A route answers GET requests with a JSON value. */
export type ControlRoutes = Record<string, () => Promise<unknown>>;

/**
 * Serves the daemon's control routes as JSON over HTTP on a Unix socket,
 * readable by the owner only (the socket's folder is 0700): local tools ask,
 * nothing listens on the network.
 */
export async function serveControl(socketPath: string, routes: ControlRoutes): Promise<Server> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  // A socket file left by a daemon that died would make listen fail with EADDRINUSE.
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    const route = req.method === 'GET' ? routes[req.url ?? ''] : undefined;
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route ${req.method} ${req.url}` }));
      return;
    }
    route().then(
      (value) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value)),
      (err: unknown) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(err) })),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  chmodSync(socketPath, 0o600);
  return server;
}
