import type { ServerResponse } from 'node:http';
import { TooManyRequestsError } from '../errors.js';
import { guessBucket } from './guess-limiter.js';

export interface ConcurrencyCaps {
  /** Playlist responses in flight at once for one key. */
  perKey: number;
  /** Playlist responses in flight at once for one client address (IPv6: one /64). */
  perAddress: number;
  /** Seconds a playlist response may stay in flight before its connection is reset. */
  sendTimeoutSeconds: number;
}

/** What a refused client is told to wait: a response in flight to a reading client ends well within it. */
const RETRY_AFTER_SECONDS = 2;

/**
 * Counts the playlist responses in flight, from the route's entry until the response is over, per
 * key and per client address, and refuses one past either cap: one key holder (or one address)
 * cannot take the whole server, nor hold more than its share of socket buffers for clients that do
 * not read. Counted by key rather than by subscriber id so that the refusal comes before the key is
 * looked up or anything rendered; a subscriber has one key at a time. Memory is what is in flight:
 * an entry goes when its count reaches zero. The key stays in memory only, never in a message.
 */
export class ConcurrencyLimiter {
  private readonly byKey = new Map<string, number>();
  private readonly byAddress = new Map<string, number>();

  constructor(private readonly caps: ConcurrencyCaps) {}

  /**
   * Holds a counted response (`leave`, from `enter`) until `res` closes, and resets its connection
   * if it is still in flight after the send timeout. Node considers a response over once the kernel
   * has taken its last byte, so a client that reads keeps well within it; one that stops reading
   * (or reads a byte now and then, which an inactivity timeout would never catch: loopback's
   * buffers alone make such progress) does not. A reset, not a close, so that the kernel drops the
   * bytes it holds for that client at once rather than keep trying to deliver them.
   */
  hold(res: ServerResponse, leave: () => void): void {
    // Closed already (a client that left while its lookup waited): 'close' will not come again.
    if (res.closed) {
      leave();
      return;
    }
    const deadline = setTimeout(resetUnfinished, this.caps.sendTimeoutSeconds * 1000, res);
    res.once('close', () => {
      clearTimeout(deadline);
      leave();
    });
  }

  /**
   * Counts one more response for `key` from `ip` and returns what ends it (idempotent). Past a cap
   * it counts nothing and throws TooManyRequestsError (429 with Retry-After).
   */
  enter(key: string, ip: string): () => void {
    // IPv6 per /64, as the guess limiter counts: one household can use any address in it.
    const address = guessBucket(ip);
    const forKey = this.byKey.get(key) ?? 0;
    const forAddress = this.byAddress.get(address) ?? 0;
    if (forKey >= this.caps.perKey) {
      throw new TooManyRequestsError('Too many downloads of this playlist at once. Try again in a moment.', RETRY_AFTER_SECONDS);
    }
    if (forAddress >= this.caps.perAddress) {
      throw new TooManyRequestsError('Too many playlist downloads from your address at once. Try again in a moment.', RETRY_AFTER_SECONDS);
    }
    this.byKey.set(key, forKey + 1);
    this.byAddress.set(address, forAddress + 1);
    let over = false;
    return () => {
      if (over) return;
      over = true;
      leave(this.byKey, key);
      leave(this.byAddress, address);
    };
  }

  /** Keys and addresses with a response in flight: zero when nothing is. */
  get tracked(): number {
    return this.byKey.size + this.byAddress.size;
  }
}

function leave(counts: Map<string, number>, name: string): void {
  const count = counts.get(name) ?? 0;
  if (count <= 1) counts.delete(name);
  else counts.set(name, count - 1);
}

function resetUnfinished(res: ServerResponse): void {
  const socket = res.socket;
  if (!res.writableFinished && socket && !socket.destroyed) socket.resetAndDestroy();
}
