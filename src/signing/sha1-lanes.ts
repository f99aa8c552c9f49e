import { hash } from 'node:crypto';
import { CHUNK_SLOTS, SCRATCH_BYTES, SLOT_FIELDS } from './sha1-lanes-kernel.js';
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
function withRoom(lanes: Kernel, bytes: number): Buffer {
  const missing = bytes - lanes.memory.buffer.byteLength;
  if (missing > 0) lanes.memory.grow(Math.ceil(missing / PAGE_BYTES));
  let heap = heaps.get(lanes);
  if (heap?.buffer !== lanes.memory.buffer) heaps.set(lanes, (heap = Buffer.from(lanes.memory.buffer)));
  return heap;
}

const heaps = new WeakMap<Kernel, Buffer>();

/**
 * What stays in the kernel's memory from one render to the next: the template at OUTPUT_AT and
 * each batch's table and subjects after it. The kernel writes only the fills over the template's
 * slots, and the next render of the same template overwrites those same slots, so the template's
 * fixed text is copied in once, not on every render (18% of a 20,000-channel response's time).
 */
interface Resident {
  template: Buffer;
  slots: readonly Sha1Slots[];
  /** Where each batch's table and subjects are. */
  tablesAt: number[];
  subjectsAt: number[];
  /** The first byte after them: per-render inputs go here. */
  end: number;
}
const residents = new WeakMap<Kernel, Resident>();

function residentFor(lanes: Kernel, template: Buffer, batches: readonly Sha1Batch[]): Resident {
  const current = residents.get(lanes);
  if (
    current?.template === template &&
    current.slots.length === batches.length &&
    batches.every((batch, i) => batch.slots === current.slots[i])
  ) {
    return current;
  }
  const slots = batches.map((batch) => batch.slots);
  let end = OUTPUT_AT + align(template.length) + SCRATCH_BYTES;
  const tablesAt: number[] = [];
  const subjectsAt: number[] = [];
  for (const { table, subjects } of slots) {
    tablesAt.push(end);
    end += align(table.length);
    subjectsAt.push(end);
    end += align(subjects.length);
  }
  // Forgotten first: were a copy below to throw, the memory would no longer match it.
  residents.delete(lanes);
  const heap = withRoom(lanes, end);
  heap.set(template, OUTPUT_AT);
  slots.forEach(({ table, subjects }, i) => {
    heap.set(table, tablesAt[i]!);
    heap.set(subjects, subjectsAt[i]!);
  });
  const resident = { template, slots, tablesAt, subjectsAt, end };
  residents.set(lanes, resident);
  return resident;
}

const align = (bytes: number) => (bytes + 15) & ~15;

/** Bytes per message image: the longest message of the batch, padded to whole blocks. */
const strideOf = ({ slots, fill }: Sha1Batch) => (((slots.longestSubject + fill.suffix.length + 8) >> 6) + 1) << 6;
const slotCount = ({ slots }: Sha1Batch) => slots.table.length / (SLOT_FIELDS * 4);

/**
 * `template` copied into `out` with every batch's fills written in. The work happens in the
 * kernel's memory, where the last template stays (see Resident), followed by one copy out. Only
 * where `sha1LanesAvailable()`.
 */
export function writeSha1Fills(out: Buffer, template: Buffer, batches: readonly Sha1Batch[]): void {
  if (!sha1LanesAvailable()) throw new Error('the SHA-1 lanes kernel is unavailable in this runtime');
  fillWith(kernel!, out, template, batches);
}

function fillWith(lanes: Kernel, out: Buffer, template: Buffer, batches: readonly Sha1Batch[]): void {
  const resident = residentFor(lanes, template, batches);
  const scratchAt = OUTPUT_AT + align(template.length);
  const inputBytes = (batch: Sha1Batch) => align(batch.fill.suffix.length) + align(batch.fill.frame.length);
  const room = batches.reduce(
    (most, batch) => Math.max(most, inputBytes(batch) + Math.min(slotCount(batch), CHUNK_SLOTS) * strideOf(batch)),
    0,
  );
  const heap = withRoom(lanes, resident.end + room);
  batches.forEach((batch, i) => {
    const { fill } = batch;
    if (slotCount(batch) === 0) return;
    let next = resident.end;
    const place = (bytes: Uint8Array) => {
      const placed = next;
      heap.set(bytes, placed);
      next += align(bytes.length);
      return placed;
    };
    const suffixAt = place(fill.suffix);
    const frameAt = place(fill.frame);
    lanes.fill(
      resident.tablesAt[i]!,
      slotCount(batch),
      resident.subjectsAt[i]!,
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
  });
  out.set(heap.subarray(OUTPUT_AT, OUTPUT_AT + template.length), 0);
}
