import type { Command } from 'commander';
import type { TlsFiles } from '../rpc/types';
import { TLS_SETTINGS } from '../config/shared-settings';
import { addSettingFlags } from './setting-flags';

/** The TLS flags as commander parses them. */
export interface TlsFlags {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

/** --tls-cert, --tls-key, --tls-ca of a command that calls meta or peers, declared once with those of mount and meta (docs/CLUSTER.md#tls). */
export function withTlsOptions(command: Command): Command {
  return addSettingFlags(command, TLS_SETTINGS);
}

export function tlsFiles(flags: TlsFlags): TlsFiles {
  return { cert: flags.tlsCert, key: flags.tlsKey, ca: flags.tlsCa };
}
