import { setTimeout as sleep } from 'node:timers/promises';
import { isCachalotError, oneLine } from '../errors';
import type { Logger } from '../obs/logger';
import { isUnimplemented, type MetaClient } from './meta-client';
import { MAX_CHANGED_FOLDERS } from './types';

/**
 * How long a change waits for others to go with it: a `cp -r` or `tar -x`
 * changes a folder per file, and meta is told once per batch instead; the
 * other nodes hear of it this much later (well within their second).
 */
const BATCH_MS = 25;
/** One call's bound; meta answers in a millisecond or two when it can. */
const CALL_MS = 1000;
/** Tries of one batch, the first included, RETRY_MS times the try apart. */
const ATTEMPTS = 3;
const RETRY_MS = 100;

export interface ListingAnnouncer {
  /** A folder of the bucket changed through this node (a key prefix ending with "/", or "" for the root). Returns at once. */
  announce(folderKey: string): void;
  /** Sends what is pending (one try), then takes no more; resolves when done, never rejects. */
  close(): Promise<void>;
}

/**
 * Tells meta which folders this node changed in S3, so that meta drops its
 * listings of them and every other node forgets its own (WatchListings).
 * Changes are batched for BATCH_MS and while a call is on its way, each
 * folder once, so that a burst is one call. A batch meta does not take is
 * tried ATTEMPTS times at most, then dropped (with one log line while the
 * problem lasts): the other nodes see those changes after their metadata
 * TTL, as without a cluster, and a node whose stream went down with meta
 * forgets its listings when it watches again. At most MAX_CHANGED_FOLDERS
 * folders wait; past that, changes are dropped the same way. A meta older
 * than the call is said once and never retried.
 */
export function listingAnnouncer(client: Pick<MetaClient, 'address' | 'listingChanged'>, nodeId: string, bucket: string, log: Logger): ListingAnnouncer {
  const logger = log.child({ meta: client.address });
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> | undefined;
  let closed = false;
  let dropped = 0;
  /** Why the last batch was not taken, as logged; undefined while meta takes them. */
  let problem: string | undefined;

  const failed = (err: unknown, folders: number) => {
    const code = isUnimplemented(err) ? 'Unimplemented' : isCachalotError(err) ? err.code : 'Internal';
    if (code !== problem) {
      if (code === 'Unimplemented') logger.info('meta does not take listing changes (a meta older than this node): other nodes see changes made here after their metadata TTL');
      else logger.warn({ err: oneLine(err), folders }, 'could not tell meta of changed folders; other nodes see them after their metadata TTL');
    }
    problem = code;
  };

  const send = async (folders: string[]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.listingChanged({ nodeId, bucket, folders }, CALL_MS);
        if (problem !== undefined) logger.info('meta takes listing changes again');
        problem = undefined;
        return;
      } catch (err) {
        const retry = attempt < ATTEMPTS && !closed && isCachalotError(err) && err.retryable && !isUnimplemented(err);
        if (!retry) return failed(err, folders.length);
        await sleep(RETRY_MS * attempt, undefined, { ref: false });
      }
    }
  };

  const flush = () => {
    timer = undefined;
    const folders = [...pending];
    pending.clear();
    if (dropped > 0) logger.warn({ dropped }, 'meta took listing changes too slowly; other nodes see the dropped ones after their metadata TTL');
    dropped = 0;
    sending = send(folders).finally(() => {
      sending = undefined;
      // What came meanwhile has waited its batch already.
      if (pending.size > 0) flush();
    });
  };

  const schedule = () => {
    if (timer || sending) return;
    timer = setTimeout(flush, BATCH_MS);
    // The mount, not a batch, keeps the daemon alive.
    timer.unref();
  };

  return {
    announce: (folderKey) => {
      if (closed) return;
      if (pending.size >= MAX_CHANGED_FOLDERS && !pending.has(folderKey)) dropped++;
      else pending.add(folderKey);
      schedule();
    },
    close: async () => {
      closed = true;
      if (timer) {
        clearTimeout(timer);
        flush();
      }
      while (sending) await sending;
    },
  };
}
