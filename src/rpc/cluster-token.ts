import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { CachalotError } from '../errors';

/** Printable ASCII without spaces: it travels as a gRPC metadata value, and `openssl rand -hex 32` makes one. */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/**
 * Reads the token file (--token-file, the shared cluster secret): one line,
 * surrounding whitespace ignored. Every problem is one line naming the file.
 * A file that group or others may read or write is refused, as ssh refuses
 * such a key: whoever reads the secret can join the cluster and read its
 * blocks; the cost is one chmod where a file was made with a loose umask.
 */
export function readClusterToken(path: string): string {
  let text: string;
  let mode: number;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CachalotError('InvalidConfig', `token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (mode & 0o077) {
    throw new CachalotError('InvalidConfig', `token file ${path} is open to group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 ${path}`);
  }
  const token = text.trim();
  if (token === '') throw new CachalotError('InvalidConfig', `token file ${path} is empty`);
  if (!TOKEN_PATTERN.test(token)) {
    throw new CachalotError('InvalidConfig', `token file ${path}: the token must be one word of printable ASCII (e.g. openssl rand -hex 32)`);
  }
  return token;
}

/**
 * Constant-time comparison: hashing first gives both sides one length, so
 * neither the length nor a common prefix of the secret shows in the timing.
 */
export function tokensMatch(presented: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
