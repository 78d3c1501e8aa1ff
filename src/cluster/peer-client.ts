import type { BlockBuffer, BufferPool } from '../block/block-buffer';
import { blockRange, type BlockRequest } from '../block/types';
import { NativePeerFetcher } from './native-peer-fetcher';
import type { BlockFetcher, PeerFetcherOptions } from './peer-fetcher';
import { ThreadPeerFetcher } from './thread-peer-fetcher';

export interface PeerClientOptions extends PeerFetcherOptions {
  /** Where received blocks go. */
  pool: BufferPool;
  /** Counts each block received whole and checked: its encoding on the wire and the bytes that came. */
  onReceived?: (encoding: 'raw' | 'lz4', wireBytes: number) => void;
  /**
   * Which receive path: native/peer's (plain TCP only) or node:http2 on a
   * thread of its own; by default native unless the peers speak TLS. Tests
   * run both.
   */
  receiver?: 'native' | 'thread';
}

/**
 * The read path's client of the peer service: each block received into a
 * buffer of the pool, whole and checked, off the event loop (native/peer's
 * thread for plain TCP, node:http2 on a worker thread for TLS).
 */
export class PeerClient {
  private readonly fetcher: BlockFetcher;

  constructor(private readonly options: PeerClientOptions) {
    const receiver = options.receiver ?? (options.tls ? 'thread' : 'native');
    if (receiver === 'native' && options.tls) throw new RangeError('the native receive path speaks plain TCP only');
    this.fetcher = receiver === 'native' ? new NativePeerFetcher(options) : new ThreadPeerFetcher(options);
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
