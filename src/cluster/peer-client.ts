import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BlockBuffer, BufferPool } from '../block/block-buffer';
import { addressOf } from '../block/native-memory';
import { blockRange, type BlockRequest } from '../block/types';
import { CachalotError, oneLine } from '../errors';
import type { FetchDone, FetchJob } from './peer-fetch-worker';
import type { PeerFetcherOptions, Received } from './peer-fetcher';

export interface PeerClientOptions extends PeerFetcherOptions {
  /** Where received blocks go. */
  pool: BufferPool;
  /** Counts each block received whole and checked: its encoding on the wire and the bytes that came. */
  onReceived?: (encoding: 'raw' | 'lz4', wireBytes: number) => void;
}

/**
 * The read path's client of the peer service. The receiving itself (HTTP/2,
 * chunk decoding, lz4, CRC32C: peer-fetcher.ts) runs on a thread of its own,
 * which writes each block straight into a buffer of the event loop's pool
 * (native/io's addressOf and bufferAt). On the event loop, node:http2's
 * fresh buffer for every socket read set off V8 mark-compacts of the
 * daemon's whole heap every few tens of MiB, and the asker spent 4.8 s of
 * CPU per GiB it received (docs/BENCHMARKS.md, "Peer reads"); the thread's
 * heap is small, and the event loop is left to serve reads.
 */
export class PeerClient {
  private worker?: Worker;
  /** Jobs on a thread, each holding its block buffer until that thread is done with it. */
  private readonly running = new Map<number, { worker: Worker; resolve: (received: Received) => void; reject: (err: Error) => void }>();
  private nextId = 0;

  constructor(private readonly options: PeerClientOptions) {}

  async fetch(address: string, request: BlockRequest): Promise<BlockBuffer> {
    const { start, end } = blockRange(request);
    const block = this.options.pool.take(end - start);
    try {
      const received = await this.run({ id: this.nextId++, address, request: wireRequest(request), into: addressOf(block.bytes) });
      block.crc32c = received.crc32c;
      this.options.onReceived?.(received.encoding, received.wireBytes);
      return block;
    } catch (err) {
      block.release();
      throw err;
    }
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

  private run(job: FetchJob): Promise<Received> {
    return new Promise((resolve, reject) => {
      const worker = this.thread();
      this.running.set(job.id, { worker, resolve, reject });
      worker.postMessage(job);
    });
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
