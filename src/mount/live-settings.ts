import type { MountConfig } from '../config/mount-config';

/** What SIGHUP changes in a running mount; every other setting takes a restart. */
export const LIVE_SETTINGS = ['logLevel', 'metadataTtlMs', 'negativeTtlMs', 'diskCache', 'drainTimeoutMs'] as const;

export type LiveSettings = Pick<MountConfig, (typeof LIVE_SETTINGS)[number]>;

/** The settings that differ between two configs but cannot change while mounted (by MountConfig's names). */
export function restartNeeded(current: MountConfig, next: MountConfig): string[] {
  const live: ReadonlySet<string> = new Set(LIVE_SETTINGS);
  return (Object.keys(next) as Array<keyof MountConfig>).filter(
    (key) => !live.has(key) && JSON.stringify(current[key]) !== JSON.stringify(next[key]),
  );
}

/** The live settings of a config, for applying and logging. */
export function liveSettings(config: MountConfig): LiveSettings {
  return Object.fromEntries(LIVE_SETTINGS.map((key) => [key, config[key]])) as LiveSettings;
}
