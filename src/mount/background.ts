import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { CachalotError, isCachalotError, oneLine, type ErrorCode } from '../errors';

/** What a daemon started in the background tells the command that started it, once; the code of a failure decides the exit code. */
export type ReadyMessage = { ready: true } | { ready: false; error: string; code?: ErrorCode };

/** True in a daemon started by runInBackground: it must report readiness through the IPC channel. */
export function reportsReadiness(): boolean {
  return process.env.CACHALOT_REPORT_READY === '1' && typeof process.send === 'function';
}

/** The failure that ended a daemon before its mount was ready, as the command that started it will report it. */
export function notReady(err: unknown): ReadyMessage {
  return { ready: false, error: oneLine(err), code: isCachalotError(err) ? err.code : undefined };
}

export function reportReadiness(message: ReadyMessage): void {
  if (!reportsReadiness()) return;
  process.send!(message);
  process.disconnect?.();
}

/**
 * Starts the same command with --foreground as a detached daemon (output to
 * logFile) and resolves once it reports that the mount answers; rejects with
 * its one-line reason otherwise. The daemon outlives this process.
 *
 * A mount that failed with a reason the daemon reported (a bucket, flag or
 * mountpoint) leaves nothing: the log file and the folders made for it go
 * again, as the reason is printed. A daemon that died or hung without one
 * keeps its log, which is where the reason is.
 */
export function runInBackground(args: string[], logFile: string, timeoutMs: number): Promise<number> {
  const undo = createLogFile(logFile);
  const out = openSync(logFile, 'a', 0o600);
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args, '--foreground'], {
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
    env: { ...process.env, CACHALOT_REPORT_READY: '1' },
  });
  closeSync(out);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new CachalotError('MountFailed', `daemon did not become ready within ${timeoutMs / 1000} s; see ${logFile}`));
    }, timeoutMs);
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      child.removeAllListeners();
      child.unref();
      child.channel?.unref();
      fn();
    };
    child.on('message', (message: ReadyMessage) => {
      if (message.ready) return settle(() => resolve(child.pid!));
      // The daemon exits right after it reports; once it has, nothing writes the log any more.
      const failed = () =>
        settle(() => {
          undo();
          reject(new CachalotError(message.code ?? 'MountFailed', message.error));
        });
      child.removeAllListeners('exit');
      if (child.exitCode !== null || child.signalCode !== null) failed();
      else child.once('exit', failed);
    });
    child.on('exit', (code, signal) =>
      settle(() => reject(new CachalotError('MountFailed', `daemon exited (${signal ?? `code ${code}`}) before the mount was ready; see ${logFile}`))),
    );
    child.on('error', (err) => settle(() => reject(err)));
  });
}

/**
 * Makes the log file's folder where missing; returns what removes the file
 * and those folders again if this call made them. A folder that holds
 * anything else by then is left (another daemon may have taken it).
 */
function createLogFile(logFile: string): () => void {
  const existed = existsSync(logFile);
  const firstMade = mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
  return () => {
    if (!existed) rmSync(logFile, { force: true });
    if (firstMade === undefined) return;
    for (let dir = dirname(logFile); dir.startsWith(firstMade); dir = dirname(dir)) {
      try {
        rmdirSync(dir);
      } catch {
        return;
      }
    }
  };
}
