import { MAX_CHANGED_FOLDERS, type ListingChanges } from './types';

/** Where a watcher's changes go: grpc-js's server stream of WatchListings. */
export interface ChangeStream {
  /** The callback runs once the message left (grpc-js handed it to HTTP/2). */
  write(message: ListingChanges, sent: () => void): unknown;
  end(): void;
}

/** Tells the node to forget every listing. */
const RESYNC: ListingChanges = { bucket: '', folders: [], resync: true };

/**
 * Meta's side of WatchListings: the folders one node announces go to every
 * other node watching. Memory is bounded per watcher: one message is on its
 * way at a time, and what comes meanwhile waits here, one copy of each
 * folder, to go out together in the next. A watcher that does not take its
 * messages (a stalled connection, a stopped process) lets more than
 * MAX_CHANGED_FOLDERS pile up: they are replaced by one resync, which tells
 * the node to forget every listing it holds. Such a watcher costs meta a
 * flag, and the node one listing of each folder it uses again. Ending its
 * stream instead would lose the same changes and keep the node unaware of
 * it until it reconnected.
 */
export class ListingWatchers {
  private readonly watchers = new Set<Watcher>();

  /** onFellBehind: a watcher's changes were replaced by a resync (metrics). */
  constructor(private readonly onFellBehind: () => void = () => undefined) {}

  /**
   * Sends the node's stream every change other nodes announce from now on,
   * after a resync first (it may have missed changes before). Returns the
   * function that stops, for when the stream closes.
   */
  watch(nodeId: string, stream: ChangeStream): () => void {
    const watcher = new Watcher(nodeId, stream, this.onFellBehind);
    this.watchers.add(watcher);
    return () => {
      watcher.closed = true;
      this.watchers.delete(watcher);
    };
  }

  /** Folders of the bucket that node `from` changed, to every other watcher. */
  publish(from: string, bucket: string, folders: readonly string[]): void {
    for (const watcher of this.watchers) if (watcher.nodeId !== from) watcher.add(bucket, folders);
  }

  get count(): number {
    return this.watchers.size;
  }

  /** Ends every stream (meta stops): its node watches again, elsewhere or once meta is back. */
  close(): void {
    for (const watcher of this.watchers) {
      watcher.closed = true;
      watcher.stream.end();
    }
    this.watchers.clear();
  }
}

class Watcher {
  closed = false;
  /** Folders not sent yet, by bucket. */
  private readonly pending = new Map<string, Set<string>>();
  private pendingFolders = 0;
  private resync = true;
  private sending = false;

  constructor(
    readonly nodeId: string,
    readonly stream: ChangeStream,
    private readonly onFellBehind: () => void,
  ) {
    this.send();
  }

  add(bucket: string, folders: readonly string[]): void {
    // A resync still to go covers whatever changed before it arrives.
    if (this.resync) return;
    let waiting = this.pending.get(bucket);
    if (!waiting) this.pending.set(bucket, (waiting = new Set()));
    for (const folder of folders) {
      if (waiting.has(folder)) continue;
      waiting.add(folder);
      this.pendingFolders++;
    }
    if (this.pendingFolders > MAX_CHANGED_FOLDERS) {
      this.pending.clear();
      this.pendingFolders = 0;
      this.resync = true;
      this.onFellBehind();
    }
    this.send();
  }

  /** The next message, unless one is on its way; the rest go once it left. */
  private send(): void {
    if (this.sending || this.closed) return;
    const message = this.next();
    if (!message) return;
    this.sending = true;
    this.stream.write(message, () => {
      this.sending = false;
      this.send();
    });
  }

  private next(): ListingChanges | undefined {
    if (this.resync) {
      this.resync = false;
      return RESYNC;
    }
    const first = this.pending.entries().next();
    if (first.done) return undefined;
    const [bucket, folders] = first.value;
    this.pending.delete(bucket);
    this.pendingFolders -= folders.size;
    return { bucket, folders: [...folders], resync: false };
  }
}
