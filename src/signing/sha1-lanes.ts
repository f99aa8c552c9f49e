import { hash } from 'node:crypto';
import { SCRATCH_BYTES, SLOT_FIELDS } from './sha1-lanes-kernel.js';
import { SHA1_LANES_WASM } from './sha1-lanes-wasm.js';

/**
 * SHA-1 over many short messages at once: four in the lanes of each SIMD register, in WebAssembly.
 * A cold playlist signs one token per channel, and `crypto.hash` costs a call into OpenSSL each
 * (a context set up and torn down for two blocks of input): that call was the largest part of a
 * response. Here a whole playlist's tokens are one call, with the padding, the hex and the copies
 * into the output done in the same pass.
 *
 * It is an accelerator, not a dependency: where it cannot run (no WebAssembly, as under
 * `--jitless`; no SIMD; a compile error; a wrong answer in its self-test) `sha1LanesAvailable()`
 * says so, and callers sign one token at a time with `crypto.hash`, which gives the same bytes.
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
interface Sha1Fill {
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
  slots.forEach((slot, i) => {
    [slot.subjectStart, slot.subjectLength, slot.fillAt, slot.copyAt].forEach((value, field) => {
      table.writeInt32LE(value, (i * SLOT_FIELDS + field) * 4);
    });
  });
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
/**
 * Decided on first use, once per process: a process that never renders (most CLI commands) never
 * compiles the kernel, and one that cannot compile it does not try again on every playlist.
 * `null` is the decision that it is unavailable.
 */
let kernel: Kernel | null | undefined;

/** Whether `writeSha1Fills` can run here: the kernel compiled and gave the right digests. */
export function sha1LanesAvailable(): boolean {
  if (kernel === undefined) kernel = loadKernel() ?? null;
  return kernel !== null;
}

/** The kernel, or undefined where the runtime refuses it or it gets its self-test wrong. */
function loadKernel(): Kernel | undefined {
  try {
    const bytes = Buffer.from(SHA1_LANES_WASM, 'base64');
    // False where the runtime lacks an instruction the kernel uses (SIMD), without throwing.
    if (!WebAssembly.validate(bytes)) return undefined;
    const candidate = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as Kernel;
    return passesSelfTest(candidate) ? candidate : undefined;
  } catch {
    // No WebAssembly at all (`--jitless`), or a compile or link error: the same answer.
    return undefined;
  }
}

/**
 * Known answers before the kernel signs anything: messages of one, two and three blocks, either
 * side of each padding boundary, five of them so that a group of four is left part-full, and one
 * fill copied to a second place. The expected bytes come from `node:crypto`.
 */
function passesSelfTest(candidate: Kernel): boolean {
  const suffix = Buffer.from('198.51.100.717000108001699999700key0123456789abcdef', 'latin1');
  // With the 51-byte suffix: 55, 56, 119, 120 and 51 bytes, that is one, two, two, three and one block.
  const subjects = [4, 5, 68, 69, 0].map((length, i) => Buffer.alloc(length, 97 + i));
  const frame = Buffer.from(`token=${' '.repeat(40)}-tail`, 'latin1');
  const gap = 2;
  const slots: Sha1Slot[] = [];
  let subjectStart = 0;
  for (const subject of subjects) {
    slots.push({ subjectStart, subjectLength: subject.length, fillAt: gap + slots.length * (frame.length + gap), copyAt: -1 });
    subjectStart += subject.length;
  }
  const copyAt = gap + slots.length * (frame.length + gap);
  slots[2]!.copyAt = copyAt;
  const template = Buffer.alloc(copyAt + frame.length + gap, '~');
  const expected = Buffer.from(template);
  slots.forEach((slot, i) => {
    const fill = Buffer.from(`token=${hash('sha1', Buffer.concat([subjects[i]!, suffix]), 'hex')}-tail`, 'latin1');
    fill.copy(expected, slot.fillAt);
    if (slot.copyAt >= 0) fill.copy(expected, slot.copyAt);
  });
  const out = Buffer.alloc(template.length);
  fillWith(candidate, out, template, [{ slots: sha1Slots(slots, subjects), fill: { frame, digestAt: 'token='.length, suffix } }]);
  return out.equals(expected);
}

/**
 * The kernel's memory at least `bytes` long, and a view of that memory (growing replaces the
 * buffer). The memory never shrinks: it stays as large as the largest playlist rendered.
 */
function withRoom(lanes: Kernel, bytes: number): { fillSlots: Kernel['fill']; heap: Buffer } {
  const missing = bytes - lanes.memory.buffer.byteLength;
  if (missing > 0) lanes.memory.grow(Math.ceil(missing / PAGE_BYTES));
  return { fillSlots: lanes.fill, heap: Buffer.from(lanes.memory.buffer) };
}

const align = (bytes: number) => (bytes + 15) & ~15;

/** Bytes per message image: the longest message of the batch, padded to whole blocks. */
const strideOf = ({ slots, fill }: Sha1Batch) => (((slots.longestSubject + fill.suffix.length + 8) >> 6) + 1) << 6;
const slotCount = ({ slots }: Sha1Batch) => slots.table.length / (SLOT_FIELDS * 4);

/**
 * `template` copied into `out` with every batch's fills written in. The work happens in the
 * kernel's memory, followed by one copy out; nothing but `out` outlives the call. Only where
 * `sha1LanesAvailable()`.
 */
export function writeSha1Fills(out: Buffer, template: Buffer, batches: readonly Sha1Batch[]): void {
  if (!sha1LanesAvailable()) throw new Error('the SHA-1 lanes kernel is unavailable in this runtime');
  fillWith(kernel!, out, template, batches);
}

function fillWith(lanes: Kernel, out: Buffer, template: Buffer, batches: readonly Sha1Batch[]): void {
  const scratchAt = OUTPUT_AT + align(template.length);
  const inputsAt = scratchAt + SCRATCH_BYTES;
  const inputBytes = (batch: Sha1Batch) =>
    align(batch.slots.table.length) + align(batch.slots.subjects.length) + align(batch.fill.suffix.length) + align(batch.fill.frame.length);
  const room = batches.reduce((most, batch) => Math.max(most, inputBytes(batch) + slotCount(batch) * strideOf(batch)), 0);
  const { fillSlots, heap } = withRoom(lanes, inputsAt + room);
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
    fillSlots(
      tableAt,
      slotCount(batch),
      subjectsAt,
      suffixAt,
      fill.suffix.length,
      frameAt,
      fill.frame.length,
      fill.digestAt,
      next,
      strideOf(batch),
      OUTPUT_AT,
      scratchAt,
    );
  }
  out.set(heap.subarray(OUTPUT_AT, OUTPUT_AT + template.length), 0);
}
