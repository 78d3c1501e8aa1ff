import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** Serves a registry at /metrics in Prometheus text format on HOST:PORT (the node's and meta's --metrics). */
export async function serveMetrics(registry: Registry, hostPort: string): Promise<Server> {
  const split = hostPort.lastIndexOf(':');
  const server = createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(hostPort.slice(split + 1)), hostPort.slice(0, split), resolve);
  });
  return server;
}
