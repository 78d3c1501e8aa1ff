// A NOTIFY_SOCKET for a daemon under test: a unix datagram socket, as systemd
// binds it, that collects every sd_notify message with the time it came.
// Node cannot bind one (no AF_UNIX datagrams in dgram), so python3 (which
// setup.sh installs for node-gyp) binds it and prints each message as a JSON
// line; the test owns that process and ends it by its PID in close().
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './e2e-helpers';

export interface NotifyMessage {
  at: number;
  /** KEY=VALUE lines of one datagram. */
  fields: Record<string, string>;
}

export interface NotifyListener {
  path: string;
  readonly messages: NotifyMessage[];
  /** The first message with KEY=VALUE, once it came. */
  waitFor(key: string, value: string, timeoutMs: number): Promise<NotifyMessage>;
  close(): Promise<void>;
}

const SCRIPT = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps(data.decode("utf-8", "replace")), flush=True)
`;

export async function listenForNotify(dir: string): Promise<NotifyListener> {
  const path = join(dir, 'notify.sock');
  const child = spawn('python3', ['-c', SCRIPT, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: NotifyMessage[] = [];
  let bound = false;
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    let newline;
    while ((newline = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line === 'bound') bound = true;
      else messages.push({ at: Date.now(), fields: Object.fromEntries((JSON.parse(line) as string).split('\n').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) });
    }
  });
  await waitFor(() => bound || child.exitCode !== null, 10_000);
  if (!bound) throw new Error('python3 could not bind the notify socket');
  return {
    path,
    messages,
    waitFor: async (key, value, timeoutMs) => {
      const found = await waitFor(() => messages.find((m) => m.fields[key] === value), timeoutMs, 10);
      if (!found) throw new Error(`no ${key}=${value} within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.fields))}`);
      return found;
    },
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(child.pid!, 'SIGTERM');
        await exited;
      }
    },
  };
}
