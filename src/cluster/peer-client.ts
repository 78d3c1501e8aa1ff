import type { BlockBuffer, BufferPool } from '../block/block-buffer';
import { blockRange, type BlockRequest } from '../block/types';
import { NativePeerFetcher } from './native-peer-fetcher';
import type { BlockFetcher, PeerFetcherOptions } from './peer-fetcher';

export interface PeerClientOptions extends PeerFetcherOptions {
  /** Where received blocks go. */
  pool: BufferPool;
  /** Counts each block received whole and checked: its encoding on the wire and the bytes that came. */
  onReceived?: (encoding: 'raw' | 'lz4', wireBytes: number) => void;
}

/**
 * The read path's client of the peer service: each block received into a
 * buffer of the pool, whole and checked, off the event loop (on native/peer's
 * thread).
 */
export class PeerClient {
  private readonly fetcher: BlockFetcher;

  constructor(private readonly options: PeerClientOptions) {
    this.fetcher = new NativePeerFetcher(options);
  }

  async fetch(address: string, request: BlockRequest): Promise<BlockBuffer> {
    const { start, end } = blockRange(request);
    const block = this.options.pool.take(end - start);
    try {
      const received = await this.fetcher.fetch(address, request, block.bytes);
      block.crc32c = received.crc32c;
      this.options.onReceived?.(received.encoding, received.wireBytes);
      return block;
    } catch (err) {
      block.release();
      throw err;
    }
  }

  /** The fetches still running fail; none writes its block buffer after this. */
  close(): void {
    this.fetcher.close();
  }
}
