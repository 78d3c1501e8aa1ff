import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where the daemon serving a mountpoint answers control requests (`cachalot
 * stats`, later warm-up, pin and evict). Derived from the mountpoint's
 * absolute path alone, so that a command given only the path finds it.
 */
export function controlSocketPath(mountpoint: string): string {
  const dir = process.getuid?.() === 0 ? '/run/cachalot' : join(process.env.XDG_RUNTIME_DIR ?? tmpdir(), 'cachalot');
  const id = createHash('sha1').update(resolve(mountpoint)).digest('hex').slice(0, 16);
  return join(dir, `${id}.sock`);
}
