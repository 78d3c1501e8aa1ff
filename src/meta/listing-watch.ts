import { isCachalotError, oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import { isUnimplemented, type MetaClient } from './meta-client';
import type { ListingChanges } from './types';

/** Waits before watching again after the stream ended: doubling from the first, capped. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 2000;
/** A meta older than WatchListings is asked again this rarely (an upgrade restarts it). */
const OLD_META_RETRY_MS = 60_000;

export interface ListingWatch {
  stop(): void;
}

/**
 * Keeps meta's stream of listing changes open while the node is a member
 * (from after it joined until it leaves) and hands on what other nodes
 * changed: onFolderChanged(folderKey) for each folder of this node's bucket
 * (a key prefix ending with "/", or "" for the bucket's root), and
 * onResync() when the node may have missed changes (every new stream, and a
 * node that fell behind), to forget every listing it holds: a listing made
 * while the stream was down is listed again instead of being trusted for
 * its TTL. A stream that ends is opened again after a capped backoff,
 * through the client, as every call to meta; until then, and against a meta
 * older than the call, the node's listings refresh after their TTL, as
 * without a cluster. Each change of state is one log line. Never throws.
 */
export function watchListingChanges(
  client: Pick<MetaClient, 'address' | 'watchListings'>,
  nodeId: string,
  bucket: string,
  onFolderChanged: (folderKey: string) => void,
  onResync: () => void,
  log: Logger,
): ListingWatch {
  const logger = log.child({ meta: client.address });
  let stopped = false;
  let stream: { cancel(): void } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  /** Why the stream could not be opened, as last logged; undefined while it opens. */
  let problem: string | undefined;

  const handOn = (changes: ListingChanges) => {
    failures = 0;
    if (problem !== undefined) logger.info('listing changes from meta resume');
    problem = undefined;
    if (changes.resync) return guarded(logger, onResync);
    if (changes.bucket !== bucket) return;
    for (const folder of changes.folders) guarded(logger, () => onFolderChanged(folder));
  };

  /** Each new reason once, not at every try it lasts. */
  const report = (err: Error, old: boolean) => {
    const code = old ? 'Unimplemented' : isCachalotError(err) ? err.code : 'Internal';
    if (code === problem) return;
    problem = code;
    if (old) logger.info('meta does not send listing changes (a meta older than this node): changes made through other nodes show after the metadata TTL');
    else logger.warn({ err: oneLine(err) }, 'no listing changes from meta; listings refresh after their TTL until they come');
  };

  // Meta ending the stream (it stops) is not said: the next try says what follows.
  const ended = (err?: Error) => {
    stream = undefined;
    if (stopped) return;
    const old = err !== undefined && isUnimplemented(err);
    if (err !== undefined) report(err, old);
    failures++;
    const delayMs = old ? OLD_META_RETRY_MS : Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (failures - 1));
    timer = setTimeout(open, delayMs);
    // The mount, not this loop, keeps the daemon alive.
    timer.unref();
  };

  const open = () => {
    stream = client.watchListings(nodeId, handOn, ended);
  };

  open();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      stream?.cancel();
    },
  };
}

/** A callback that throws costs that one change, not the stream. */
function guarded(log: Logger, work: () => void): void {
  try {
    work();
  } catch (err) {
    log.error({ err: oneLine(err) }, 'handling a listing change failed');
  }
}
