import { CachalotError } from '../errors';

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

/** Parses `512MiB`, `4GiB`, `1.5GB`, or plain bytes; the caller names the flag or key of a bad one. */
export function parseSize(text: string | number): number {
  if (typeof text === 'number' && Number.isSafeInteger(text) && text >= 0) return text;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(text));
  const unit = match ? SIZE_UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new CachalotError('InvalidConfig', `invalid size "${text}" (use e.g. 512MiB, 4GiB or bytes)`);
  }
  return Math.round(Number(match[1]) * unit);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, '': 1000 };

/** Parses `60s`, `500ms`, `5m`, plain seconds, or `never` (Infinity), into milliseconds; the caller names the flag or key of a bad one. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number' && text >= 0) return text * 1000;
  if (String(text).trim().toLowerCase() === 'never') return Infinity;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*$/i.exec(String(text));
  if (!match) {
    throw new CachalotError('InvalidConfig', `invalid duration "${text}" (use e.g. 500ms, 60s, 5m or never)`);
  }
  return Number(match[1]) * DURATION_UNITS[match[2].toLowerCase()];
}

/** Bytes in the largest unit that keeps them whole (8MiB, 1GiB, 1536KiB), as the config file writes them. */
export function formatSize(bytes: number): string {
  for (const [unit, name] of [[2 ** 40, 'TiB'], [2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB']] as const) {
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${name}`;
  }
  return String(bytes);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
