import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
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
 */
export function runInBackground(args: string[], logFile: string, timeoutMs: number): Promise<number> {
  mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
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
    child.on('message', (message: ReadyMessage) =>
      settle(() => (message.ready ? resolve(child.pid!) : reject(new CachalotError(message.code ?? 'MountFailed', message.error)))),
    );
    child.on('exit', (code, signal) =>
      settle(() => reject(new CachalotError('MountFailed', `daemon exited (${signal ?? `code ${code}`}) before the mount was ready; see ${logFile}`))),
    );
    child.on('error', (err) => settle(() => reject(err)));
  });
}
