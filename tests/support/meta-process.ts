// `cachalot meta` as a child process of a test, on a port the test chose (so
// that a restart keeps the address the nodes know).
import { ChildProcess, spawn } from 'node:child_process';
import { killChild, waitFor } from './e2e-helpers';
import { CACHALOT } from './mount-fixture';

/** Resolves once meta says it serves on 127.0.0.1:port; a meta that does not is killed (by its PID) and the start fails. */
export async function startMetaProcess(port: number, args: string[], env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(CACHALOT, ['meta', '--listen', `127.0.0.1:${port}`, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const listening = await waitFor(() => child.exitCode !== null || /meta listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1], 15_000);
  if (listening !== String(port)) {
    await killChild(child);
    throw new Error(`meta did not say it serves on 127.0.0.1:${port}: ${JSON.stringify(output)}`);
  }
  return child;
}
