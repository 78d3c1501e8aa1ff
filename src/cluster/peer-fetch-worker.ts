// The thread that receives blocks from peers for the event loop's PeerClient
// (peer-client.ts says why): each job fills a block buffer of the event
// loop's pool, seen here by its address.
import { parentPort, workerData } from 'node:worker_threads';
import { bufferAt } from '../block/native-memory';
import { blockRange, type BlockRequest } from '../block/types';
import { oneLine } from '../errors';
import { PeerFetcher, type PeerFetcherOptions, type Received } from './peer-fetcher';

export interface FetchJob {
  id: number;
  address: string;
  request: BlockRequest;
  /** addressOf the buffer to fill, exactly the block's length; the event loop leaves it alone until the job is done. */
  into: bigint;
}

/** A job's end: the block is in its buffer, whole and checked; or why not (one line). */
export type FetchDone = { id: number; received: Received } | { id: number; failure: string };

const fetcher = new PeerFetcher(workerData as PeerFetcherOptions);
const port = parentPort!;

port.on('message', (job: FetchJob | 'close') => {
  if (job === 'close') {
    fetcher.close();
    port.close();
    return;
  }
  const { start, end } = blockRange(job.request);
  fetcher.fetch(job.address, job.request, bufferAt(job.into, end - start)).then(
    (received) => port.postMessage({ id: job.id, received } satisfies FetchDone),
    (err: unknown) => port.postMessage({ id: job.id, failure: oneLine(err) } satisfies FetchDone),
  );
});
