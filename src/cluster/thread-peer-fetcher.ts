import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { addressOf } from '../block/native-memory';
import type { BlockRequest } from '../block/types';
import { CachalotError, oneLine } from '../errors';
import type { FetchDone, FetchJob } from './peer-fetch-worker';
import type { BlockFetcher, PeerFetcherOptions, Received } from './peer-fetcher';

/**
 * PeerFetcher (node:http2) on a thread of its own, for peers spoken to over
 * TLS, which native/peer does not speak: the thread writes each block
 * straight into the buffer given (native/io's addressOf and bufferAt). On
 * the event loop, node:http2's fresh buffer for every socket read set off
 * V8 mark-compacts of the daemon's whole heap every few tens of MiB, and the
 * asker spent 4.8 s of CPU per GiB it received (docs/BENCHMARKS.md, "Peer
 * reads"); the thread's heap is small.
 */
export class ThreadPeerFetcher implements BlockFetcher {
  private worker?: Worker;
  /** Jobs on a thread, each holding its block buffer until that thread is done with it. */
  private readonly running = new Map<number, { worker: Worker; into: Buffer; resolve: (received: Received) => void; reject: (err: Error) => void }>();
  private nextId = 0;

  constructor(private readonly options: PeerFetcherOptions) {}

  fetch(address: string, request: BlockRequest, into: Buffer): Promise<Received> {
    const job: FetchJob = { id: this.nextId++, address, request: wireRequest(request), into: addressOf(into) };
    return new Promise((resolve, reject) => {
      const worker = this.thread();
      this.running.set(job.id, { worker, into, resolve, reject });
      worker.postMessage(job);
    });
  }

  /** Ends the thread; fetches still running fail once it has stopped (it writes no buffer after that). */
  close(): void {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    worker.postMessage('close');
    void worker.terminate().then(() => this.failRunning(worker, 'stopped: the mount is closing'));
  }

  /** A thread that is gone writes nothing more: its jobs fail (their reads go to S3) and free their buffers. */
  private failRunning(worker: Worker, why: string): void {
    for (const [id, job] of this.running) {
      if (job.worker !== worker) continue;
      this.running.delete(id);
      job.reject(new CachalotError('PeerFailed', `the peer receiving thread ${why}`));
    }
  }

  /** The receiving thread, started at the first fetch and again after it died. */
  private thread(): Worker {
    if (this.worker) return this.worker;
    const { token, tls, timeoutMs, acceptLz4 } = this.options;
    const worker = new Worker(join(__dirname, 'peer-fetch-worker.js'), { workerData: { token, tls, timeoutMs, acceptLz4 } satisfies PeerFetcherOptions });
    worker.unref();
    worker.on('message', (done: FetchDone) => {
      const job = this.running.get(done.id);
      this.running.delete(done.id);
      if ('received' in done) job?.resolve(done.received);
      else job?.reject(new CachalotError('PeerFailed', done.failure));
    });
    const died = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failRunning(worker, why);
    };
    worker.on('error', (err) => died(`failed: ${oneLine(err)}`));
    worker.on('exit', (code) => died(`exited (${code})`));
    this.worker = worker;
    return worker;
  }
}

/** The request as the thread gets it: plain data. */
function wireRequest({ bucket, key, etag, index, objectSize, blockSize }: BlockRequest): BlockRequest {
  return { bucket, key, etag, index, objectSize, blockSize };
}
