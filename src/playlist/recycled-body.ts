import { Readable } from 'node:stream';
import type { BufferRecycler } from './buffer-recycler.js';

/**
 * A response body whose buffer goes back to the recycler once nothing can read it again. The HTTP
 * stack destroys a stream body when the response has finished (its bytes handed to the kernel) or
 * the connection is gone; ending the read is not enough, since the socket may still hold the buffer.
 */
export class RecycledBody extends Readable {
  private buffer: Buffer | undefined;

  constructor(
    buffer: Buffer,
    private readonly recycler: BufferRecycler,
  ) {
    super({ autoDestroy: false });
    this.buffer = buffer;
  }

  get byteLength(): number {
    return this.buffer?.length ?? 0;
  }

  override _read(): void {
    this.push(this.buffer);
    this.push(null);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.buffer) this.recycler.give(this.buffer);
    this.buffer = undefined;
    callback(error);
  }
}
