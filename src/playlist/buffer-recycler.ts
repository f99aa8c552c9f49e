/**
 * Output buffers handed out again once the response that used one has been sent. A fresh buffer of
 * a playlist's size per response costs page faults and garbage-collector work, a large share of a
 * cold render. Sizes repeat (one per lineup, format and fill width), so buffers are kept per size,
 * least recently used sizes dropped first.
 *
 * Only give back a buffer that nothing will read again: a recycled buffer is overwritten by the
 * next response of its size.
 */
export class BufferRecycler {
  private readonly spare = new Map<number, Buffer[]>();
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

  give(buffer: Buffer): void {
    const size = buffer.length;
    if (size > this.maxBytes) return;
    const buffers = this.spare.get(size) ?? [];
    this.spare.delete(size);
    buffers.push(buffer);
    this.spare.set(size, buffers);
    this.total += size;
    for (const [oldSize, oldBuffers] of this.spare) {
      if (this.total <= this.maxBytes) break;
      oldBuffers.shift();
      this.total -= oldSize;
      if (oldBuffers.length === 0) this.spare.delete(oldSize);
    }
  }

  /** Bytes held for reuse. */
  get bytes(): number {
    return this.total;
  }
}
