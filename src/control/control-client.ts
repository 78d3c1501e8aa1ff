import { request } from 'node:http';
import { resolve } from 'node:path';
import { CachalotError, ERROR_CODES, type ErrorCode } from '../errors';
import { controlSocketPath } from './control-path';

const TIMEOUT_MS = 10_000;

/**
 * Asks the daemon serving mountpoint for a control route's JSON: GET, or
 * with a body a POST of it. A failure the daemon reports keeps its code.
 */
export function askDaemon(mountpoint: string, route: string, body?: unknown, timeoutMs = TIMEOUT_MS): Promise<unknown> {
  const socketPath = controlSocketPath(mountpoint);
  const where = resolve(mountpoint);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((done, fail) => {
    const method = payload === undefined ? 'GET' : 'POST';
    const req = request({ socketPath, path: route, method, timeout: timeoutMs, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          return fail(new CachalotError('Internal', `${where}: daemon answered something that is not JSON`));
        }
        if (res.statusCode === 200) return done(value);
        const { error, code } = (value ?? {}) as { error?: string; code?: string };
        const known = ERROR_CODES.includes(code as ErrorCode) ? (code as ErrorCode) : 'Internal';
        fail(new CachalotError(known, `${where}: daemon answered ${res.statusCode}: ${String(error ?? text).slice(0, 200)}`));
      });
    });
    req.on('timeout', () => req.destroy(new CachalotError('Timeout', `${where}: the daemon did not answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        fail(new CachalotError('NoDaemon', `${where}: no cachalot daemon serves this path (is it mounted?)`));
      } else {
        fail(err);
      }
    });
    req.end(payload);
  });
}
