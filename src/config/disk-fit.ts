import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { CachalotError } from '../errors';
import { formatBytes } from './units';

/**
 * A disk_cache larger than the filesystem that holds cache_dir (or would:
 * the nearest folder that exists) cannot be; one line naming it as set. A
 * cache_dir nowhere to be found is left to the disk tier to report.
 */
export function checkDiskCacheFits(diskCache: number, cacheDir: string, name: string): void {
  const total = filesystemBytes(cacheDir);
  if (total !== undefined && diskCache > total) {
    throw new CachalotError('InvalidConfig', `${name} (${formatBytes(diskCache)}) is larger than the disk that holds ${cacheDir} (${formatBytes(total)})`);
  }
}

function filesystemBytes(path: string): number | undefined {
  for (let dir = path; ; dir = dirname(dir)) {
    try {
      const fs = statfsSync(dir);
      return fs.blocks * fs.bsize;
    } catch {
      if (dirname(dir) === dir) return undefined;
    }
  }
}
