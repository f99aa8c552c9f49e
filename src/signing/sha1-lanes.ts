import { SCRATCH_BYTES, SLOT_FIELDS } from './sha1-lanes-kernel.js';
import { SHA1_LANES_WASM } from './sha1-lanes-wasm.js';

/**
 * SHA-1 over many short messages at once: four in the lanes of each SIMD register, in WebAssembly.
 * A cold playlist signs one token per channel, and `crypto.hash` costs a call into OpenSSL each
 * (a context set up and torn down for two blocks of input): that call was the largest part of a
 * response. Here a whole playlist's tokens are one call, about three times faster, with the
 * padding, the hex and the copies into the output done in the same pass.
 *
 * The digests are the standard SHA-1 of each message; tests hold them to `node:crypto`.
 */

/** One token's place in a playlist. */
export interface Sha1Slot {
  /** Where the subject's bytes start in `subjects`, and how many. */
  subjectStart: number;
  subjectLength: number;
  /** Where the fill goes in the output. */
  fillAt: number;
  /** A second place that gets the same fill (a catch-up source), or -1. */
  copyAt: number;
}

/** Every slot of one origin in one playlist: prepared once per lineup. */
export interface Sha1Slots {
  /** The subjects' UTF-8 bytes back to back. */
  subjects: Buffer;
  /** SLOT_FIELDS little-endian 32-bit numbers per slot, in the order of Sha1Slot's fields, as the kernel reads them. */
  table: Buffer;
  /** The longest subject, in bytes. */
  longestSubject: number;
}

/** What every slot of the batch shares for one viewer. */
export interface Sha1Fill {
  /** The fill's text, with room for the 40 hex digits at `digestAt`. */
  frame: Buffer;
  digestAt: number;
  /** Hashed after each slot's subject. */
  suffix: Buffer;
}

export interface Sha1Batch {
  slots: Sha1Slots;
  fill: Sha1Fill;
}

export function sha1Slots(slots: readonly Sha1Slot[], subjects: readonly Buffer[]): Sha1Slots {
  const table = Buffer.alloc(slots.length * SLOT_FIELDS * 4);
  slots.forEach((slot, i) =>
    [slot.subjectStart, slot.subjectLength, slot.fillAt, slot.copyAt].forEach((value, field) => table.writeInt32LE(value, (i * SLOT_FIELDS + field) * 4)),
  );
  return {
    subjects: Buffer.concat(subjects),
    table,
    longestSubject: slots.reduce((longest, slot) => Math.max(longest, slot.subjectLength), 0),
  };
}

const PAGE_BYTES = 64 * 1024;
/** The first bytes of the kernel's memory stay unused, so that no region starts at address 0. */
const OUTPUT_AT = 64;
interface Kernel {
  memory: WebAssembly.Memory;
  fill(...args: number[]): void;
}
/** Made on first use, so that a process that never renders (most CLI commands) never compiles it. */
let kernel: Kernel | undefined;

/**
 * The kernel, its memory at least `bytes` long, and a view of that memory (growing replaces the
 * buffer). The memory never shrinks: it stays as large as the largest playlist rendered.
 */
function kernelWithRoom(bytes: number): { fillSlots: Kernel['fill']; heap: Buffer } {
  kernel ??= new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(SHA1_LANES_WASM, 'base64'))).exports as unknown as Kernel;
  const missing = bytes - kernel.memory.buffer.byteLength;
  if (missing > 0) kernel.memory.grow(Math.ceil(missing / PAGE_BYTES));
  return { fillSlots: kernel.fill, heap: Buffer.from(kernel.memory.buffer) };
}

const align = (bytes: number) => (bytes + 15) & ~15;

/** Bytes per message image: the longest message of the batch, padded to whole blocks. */
const strideOf = ({ slots, fill }: Sha1Batch) => (((slots.longestSubject + fill.suffix.length + 8) >> 6) + 1) << 6;
const slotCount = ({ slots }: Sha1Batch) => slots.table.length / (SLOT_FIELDS * 4);

/**
 * `template` copied into `out` with every batch's fills written in. The work happens in the
 * kernel's memory, followed by one copy out; nothing but `out` outlives the call.
 */
export function writeSha1Fills(out: Buffer, template: Buffer, batches: readonly Sha1Batch[]): void {
  const scratchAt = OUTPUT_AT + align(template.length);
  const inputsAt = scratchAt + SCRATCH_BYTES;
  const inputBytes = (batch: Sha1Batch) =>
    align(batch.slots.table.length) + align(batch.slots.subjects.length) + align(batch.fill.suffix.length) + align(batch.fill.frame.length);
  const room = batches.reduce((most, batch) => Math.max(most, inputBytes(batch) + slotCount(batch) * strideOf(batch)), 0);
  const { fillSlots, heap } = kernelWithRoom(inputsAt + room);
  heap.set(template, OUTPUT_AT);
  for (const batch of batches) {
    const { slots, fill } = batch;
    if (slotCount(batch) === 0) continue;
    let next = inputsAt;
    const place = (bytes: Uint8Array) => {
      const placed = next;
      heap.set(bytes, placed);
      next += align(bytes.length);
      return placed;
    };
    const tableAt = place(slots.table);
    const subjectsAt = place(slots.subjects);
    const suffixAt = place(fill.suffix);
    const frameAt = place(fill.frame);
    fillSlots(tableAt, slotCount(batch), subjectsAt, suffixAt, fill.suffix.length, frameAt, fill.frame.length, fill.digestAt, next, strideOf(batch), OUTPUT_AT, scratchAt);
  }
  out.set(heap.subarray(OUTPUT_AT, OUTPUT_AT + template.length), 0);
}
