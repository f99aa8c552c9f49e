import { Sha1Lanes } from '../signing/sha1-lanes.js';

/**
 * Instances of the signing kernel lent or kept at most. Each reserves address space for its memory
 * (about 10 GB of it, none backed until used), so their number is bounded as well as their bytes.
 */
const MOST_LANES = 32;

/**
 * Output memory handed out again once the response that used it has been sent. A fresh buffer of
 * a playlist's size per response costs page faults and garbage-collector work, a large share of a
 * cold render. Two kinds:
 * - buffers, kept per size (one per lineup, format and fill width), least recently used sizes
 *   dropped first;
 * - instances of the signing kernel (`takeLanes`), whose memory is the body: each keeps the
 *   template it filled last, so the next body of that lineup costs only its fills.
 *
 * Only give back what nothing will read again: it is overwritten by the next response.
 */
export class BufferRecycler {
  private readonly spare = new Map<number, Buffer[]>();
  /**
   * Kernel instances not lent, the least recently given back first, each with the bytes of the body
   * it held: what the budget counts, as for a buffer, so that the same number of bodies in flight
   * is kept either way (an instance's memory is about a tenth larger: the signing inputs).
   */
  private readonly spareLanes: { lanes: Sha1Lanes; bytes: number }[] = [];
  private lent = 0;
  private total = 0;

  constructor(private maxBytes: number) {}

  /** Raises the budget to `bytes`, if it is lower: enough for the largest body times the responses in flight. */
  reserve(bytes: number): void {
    if (bytes > this.maxBytes) this.maxBytes = bytes;
  }

  /** A buffer of exactly `size` bytes, with stale content: the caller overwrites every byte. */
  take(size: number): Buffer {
    const buffers = this.spare.get(size);
    const buffer = buffers?.pop();
    if (!buffer) return Buffer.allocUnsafe(size);
    this.total -= size;
    // Re-inserting moves the size to the recent end of the Map's order.
    this.spare.delete(size);
    if (buffers!.length > 0) this.spare.set(size, buffers!);
    return buffer;
  }

  /**
   * A kernel instance to fill `template` in, whose `fill` result is then given back like a buffer:
   * the most recent one that holds `template` already, else the least recently used, else a new
   * one. Undefined where the kernel is unavailable, or MOST_LANES are lent: `take` a buffer then.
   */
  takeLanes(template: Buffer): Sha1Lanes | undefined {
    const holding = this.spareLanes.findLastIndex((spare) => spare.lanes.holds(template));
    let lanes: Sha1Lanes | undefined;
    if (this.spareLanes.length > 0) {
      const [spare] = this.spareLanes.splice(Math.max(holding, 0), 1);
      lanes = spare!.lanes;
      this.total -= spare!.bytes;
    } else if (this.lent < MOST_LANES) {
      lanes = Sha1Lanes.create();
    }
    if (lanes) this.lent++;
    return lanes;
  }

  /** Takes back a buffer from `take`, or a body filled in an instance from `takeLanes`. */
  give(buffer: Buffer): void {
    const lanes = Sha1Lanes.owning(buffer);
    if (lanes) {
      this.lent--;
      if (buffer.length > this.maxBytes) return;
      this.spareLanes.push({ lanes, bytes: buffer.length });
      this.total += buffer.length;
    } else {
      const size = buffer.length;
      if (size > this.maxBytes) return;
      const buffers = this.spare.get(size) ?? [];
      this.spare.delete(size);
      buffers.push(buffer);
      this.spare.set(size, buffers);
      this.total += size;
    }
    this.trim();
  }

  /** Bytes held for reuse. */
  get bytes(): number {
    return this.total;
  }

  /** Down to the budget: buffers of the least recently used sizes first, then the least recently used instances. */
  private trim(): void {
    for (const [oldSize, oldBuffers] of this.spare) {
      if (this.total <= this.maxBytes) return;
      oldBuffers.shift();
      this.total -= oldSize;
      if (oldBuffers.length === 0) this.spare.delete(oldSize);
    }
    while (this.total > this.maxBytes && this.spareLanes.length > 0) this.total -= this.spareLanes.shift()!.bytes;
  }
}
