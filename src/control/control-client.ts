import { request } from 'node:http';
import { resolve } from 'node:path';
import { CachalotError } from '../errors';
import { controlSocketPath } from './control-path';

const TIMEOUT_MS = 10_000;

/** Asks the daemon serving mountpoint for a control route's JSON. */
export function askDaemon(mountpoint: string, route: string): Promise<unknown> {
  const socketPath = controlSocketPath(mountpoint);
  const where = resolve(mountpoint);
  return new Promise((done, fail) => {
    const req = request({ socketPath, path: route, method: 'GET', timeout: TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return fail(new CachalotError('Internal', `${where}: daemon answered ${res.statusCode}: ${body.slice(0, 200)}`));
        try {
          done(JSON.parse(body));
        } catch {
          fail(new CachalotError('Internal', `${where}: daemon answered something that is not JSON`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new CachalotError('Timeout', `${where}: the daemon did not answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        fail(new CachalotError('NoDaemon', `${where}: no cachalot daemon serves this path (is it mounted?)`));
      } else {
        fail(err);
      }
    });
    req.end();
  });
}
