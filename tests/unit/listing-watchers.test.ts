// Meta's fan-out of listing changes, against streams the test drives: one
// message on its way per watcher, what comes meanwhile merged into the next,
// the announcer left out, and a watcher that does not take its messages
// bounded by a resync instead of a growing queue.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListingWatchers, type ChangeStream } from '../../src/meta/listing-watchers';
import { MAX_CHANGED_FOLDERS, type ListingChanges } from '../../src/meta/types';

/** A stream whose messages leave only when the test says so. */
function stream() {
  const written: ListingChanges[] = [];
  const unsent: Array<() => void> = [];
  let ended = false;
  const s: ChangeStream = {
    write: (message, sent) => {
      written.push(message);
      unsent.push(sent);
    },
    end: () => (ended = true),
  };
  return {
    s,
    written,
    /** The message on its way left. */
    leave: () => unsent.shift()!(),
    get waiting() {
      return unsent.length;
    },
    get ended() {
      return ended;
    },
  };
}

const RESYNC = { bucket: '', folders: [], resync: true };

test('a watcher gets a resync first, then every other node\'s changes; one message on its way, the rest merged into the next', () => {
  const watchers = new ListingWatchers();
  const a = stream();
  const b = stream();
  watchers.watch('a', a.s);
  watchers.watch('b', b.s);
  assert.deepEqual(a.written, [RESYNC], 'a new watcher may have missed changes');
  a.leave();
  b.leave();

  watchers.publish('b', 'bucket', ['x/', '']);
  assert.deepEqual(a.written.at(-1), { bucket: 'bucket', folders: ['x/', ''], resync: false });
  assert.equal(b.written.length, 1, 'the announcer is not told of its own change');

  // While that message is on its way, more changes wait and go together, each folder once.
  watchers.publish('b', 'bucket', ['y/']);
  watchers.publish('c', 'bucket', ['y/', 'z/']);
  watchers.publish('c', 'other', ['w/']);
  assert.equal(a.written.length, 2);
  a.leave();
  assert.deepEqual(a.written.at(-1), { bucket: 'bucket', folders: ['y/', 'z/'], resync: false });
  a.leave();
  assert.deepEqual(a.written.at(-1), { bucket: 'other', folders: ['w/'], resync: false });
  a.leave();
  assert.equal(a.waiting, 0, 'nothing more to send');
  b.leave();
  assert.deepEqual(b.written.slice(1).map((m) => m.folders), [['y/', 'z/'], ['w/']], 'b hears of c\'s changes');
});

test('a watcher that takes nothing holds at most MAX_CHANGED_FOLDERS folders, then one resync', () => {
  let behind = 0;
  const watchers = new ListingWatchers(() => behind++);
  const slow = stream();
  watchers.watch('slow', slow.s);
  slow.leave();
  watchers.publish('n', 'bucket', ['first/']);
  // That message never leaves: the connection stalled.
  for (let i = 0; i < 10 * MAX_CHANGED_FOLDERS; i++) watchers.publish('n', 'bucket', [`f${i}/`]);
  assert.equal(slow.written.length, 2, 'nothing written past the message on its way');
  assert.equal(behind, 1, 'fell behind once: the changes became one resync');
  slow.leave();
  assert.deepEqual(slow.written.at(-1), RESYNC);
  slow.leave();
  assert.equal(slow.waiting, 0, 'the resync covered every change');
});

test('a stopped watcher gets nothing more; close() ends every stream', () => {
  const watchers = new ListingWatchers();
  const gone = stream();
  const open = stream();
  const stop = watchers.watch('gone', gone.s);
  watchers.watch('open', open.s);
  stop();
  gone.leave();
  watchers.publish('n', 'bucket', ['a/']);
  assert.equal(gone.written.length, 1, 'only the resync it had before it stopped');
  assert.equal(watchers.count, 1);
  watchers.close();
  assert.equal(open.ended, true);
  assert.equal(gone.ended, false, 'a stopped stream is not the hub\'s to end');
  assert.equal(watchers.count, 0);
});
