// The lock of a cache dir or data dir: the kernel's, held by one process,
// free the moment its holder dies, even before the holder is reaped.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DirLock } from '../../src/dir-lock';
import { isCachalotError } from '../../src/errors';
import { childExit, killChild, processState, waitForZombie } from '../support/e2e-helpers';

const PROCESS = join(__dirname, '../support/dir-lock-process.js');
const root = mkdtempSync(join(tmpdir(), 'cachalot-dir-lock-'));
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) await killChild(child);
  rmSync(root, { recursive: true, force: true });
});

let dirs = 0;
function freshDir(): string {
  const dir = join(root, `dir-${++dirs}`);
  mkdirSync(dir);
  return dir;
}

function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [PROCESS, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

/** The next line the child writes. */
function nextLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const end = text.indexOf('\n');
      if (end < 0) return;
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      resolve(text.slice(0, end));
    };
    const onExit = (code: number | null) => reject(new Error(`pid ${child.pid} exited (${code}) before it said anything`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

test('a second acquire is refused with the holder named; release frees the lock and deletes the file', () => {
  const dir = freshDir();
  const lock = DirLock.acquire(dir, 'data dir');
  assert.equal(readFileSync(join(dir, 'lock'), 'utf8'), `${process.pid}\n`, 'the file holds the pid, for the message');
  assert.throws(
    () => DirLock.acquire(dir, 'data dir'),
    (err) => isCachalotError(err, 'DataDirBusy') && err.message === `data dir ${dir} is in use by process ${process.pid}`,
  );
  lock.release();
  assert.equal(existsSync(join(dir, 'lock')), false);
  DirLock.acquire(dir, 'cache dir').release();
});

test('kill -9 of the holder frees the lock at once, while the holder is still a zombie', async () => {
  const dir = freshDir();
  const holder = start(['hold', dir]);
  assert.equal(await nextLine(holder), 'locked');
  assert.throws(() => DirLock.acquire(dir, 'cache dir'), (err) => isCachalotError(err, 'CacheDirBusy') && err.message.includes(`process ${holder.pid}`));

  const exited = childExit(holder, 10_000);
  holder.kill('SIGKILL');
  waitForZombie(holder.pid!, 5000);
  // A pid lock sees the zombie as alive (kill(pid, 0) succeeds) and refuses.
  const lock = DirLock.acquire(dir, 'cache dir');
  assert.equal(processState(holder.pid!), 'Z', 'the holder was not reaped meanwhile');
  assert.equal(readFileSync(join(dir, 'lock'), 'utf8'), `${process.pid}\n`, 'the dead holder\'s pid is replaced');
  lock.release();
  assert.equal((await exited).signal, 'SIGKILL');
});

test('starts racing over a lock left by a killed process: exactly one wins, every round', async () => {
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  for (let round = 0; round < 5; round++) {
    const dir = freshDir();
    writeFileSync(join(dir, 'lock'), `${dead}\n`);
    const racers = Array.from({ length: 4 }, () => start(['race', dir]));
    for (const racer of racers) assert.equal(await nextLine(racer), 'ready');
    const answers = racers.map(nextLine);
    for (const racer of racers) racer.stdin!.write('go\n');
    const outcomes = await Promise.all(answers);
    assert.equal(outcomes.filter((o) => o === 'won').length, 1, `round ${round}: ${outcomes.join(', ')}`);
    for (const racer of racers) racer.stdin!.end();
    for (const racer of racers) assert.equal((await childExit(racer, 10_000)).code, 0);
  }
});

test('processes taking and releasing the lock in turn never hold it together', async () => {
  const dir = freshDir();
  const churners = Array.from({ length: 4 }, () => start(['churn', dir, '300']));
  const said = await Promise.all(churners.map(nextLine));
  assert.deepEqual(said, ['done', 'done', 'done', 'done']);
  for (const churner of churners) assert.equal((await childExit(churner, 10_000)).code, 0);
});
