/**
 * Gives typed arrays' memory back now rather than at V8's next full collection. Arrays that lived
 * through a load reach the old generation, whose garbage V8 collects only when the heap or
 * external memory has grown by tens of megabytes: a guide's build columns waited there, adding
 * their size to the server's peak RSS. Moving the memory to a fresh, unreferenced buffer (a
 * transfer, no copy) leaves it to the next young collection, a few milliseconds away. The arrays
 * are empty afterwards and must not be used again. A view of part of a buffer (a small Buffer from
 * Node's shared pool) is left alone: the rest of its buffer is someone else's.
 */
export function releaseMemory(...arrays: readonly ArrayBufferView[]): void {
  for (const array of arrays) {
    const buffer = array.buffer;
    const whole = array.byteOffset === 0 && array.byteLength === buffer.byteLength;
    if (buffer instanceof ArrayBuffer && whole && buffer.byteLength > 0) structuredClone(buffer, { transfer: [buffer] });
  }
}
