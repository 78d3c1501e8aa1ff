import { spawn, ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface S3rverProcess {
  endpoint: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** s3rver's fixed credentials. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * Starts a local S3-compatible server (s3rver, patched: see docs/S3RVER.md)
 * on 127.0.0.1 in a child process; port 0 picks a free port.
 */
export async function startS3rver(options: { directory: string; port?: number; buckets?: string[] }): Promise<S3rverProcess> {
  mkdirSync(options.directory, { recursive: true });
  const config = JSON.stringify({ directory: options.directory, port: options.port ?? 0, buckets: options.buckets ?? [] });
  const child = spawn(process.execPath, ['--openssl-legacy-provider', join(__dirname, 's3rver-main.js'), config], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`s3rver exited with code ${code} before listening`)));
  });
  return { endpoint: `http://127.0.0.1:${port}`, port, pid: child.pid!, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
