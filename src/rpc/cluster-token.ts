import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { CachalotError } from '../errors';

/** The shared cluster secret (--token-file), and a warning when its file is open to every user. */
export interface ClusterToken {
  token: string;
  warning?: string;
}

/** Printable ASCII without spaces: it travels as a gRPC metadata value, and `openssl rand -hex 32` makes one. */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/** Reads the token file: one line, surrounding whitespace ignored. Every problem is one line naming the file. */
export function readClusterToken(path: string): ClusterToken {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(path, 'utf8');
    mode = statSync(path).mode;
  } catch (err) {
    throw new CachalotError('InvalidConfig', `token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  const token = text.trim();
  if (token === '') throw new CachalotError('InvalidConfig', `token file ${path} is empty`);
  if (!TOKEN_PATTERN.test(token)) {
    throw new CachalotError('InvalidConfig', `token file ${path}: the token must be one word of printable ASCII (e.g. openssl rand -hex 32)`);
  }
  const warning = mode & 0o004 ? `token file ${path} is readable by every user; chmod 600 it` : undefined;
  return { token, warning };
}

/**
 * Constant-time comparison: hashing first gives both sides one length, so
 * neither the length nor a common prefix of the secret shows in the timing.
 */
export function tokensMatch(presented: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
