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
let compiled: WebAssembly.Module | null | undefined;
/** The instance that passed the self-test, where `writeSha1Fills` signs, copying each playlist out. */
let shared: Sha1Lanes | undefined;

/** Whether `writeSha1Fills` and `Sha1Lanes.create` can run here: the kernel compiled and gave the right digests. */
export function sha1LanesAvailable(): boolean {
  if (compiled === undefined) compiled = loadModule() ?? null;
  return compiled !== null;
}

/** The kernel, or undefined where the runtime refuses it or it gets its self-test wrong. */
function loadModule(): WebAssembly.Module | undefined {
  try {
    const bytes = Buffer.from(SHA1_LANES_WASM, 'base64');
    // False where the runtime lacks an instruction the kernel uses (SIMD), without throwing.
    if (!WebAssembly.validate(bytes)) return undefined;
    const candidate = new WebAssembly.Module(bytes);
    const lanes = new Sha1Lanes(instantiate(candidate));
    if (!passesSelfTest(lanes)) return undefined;
    shared = lanes;
    return candidate;
  } catch {
    // No WebAssembly at all (`--jitless`), or a compile or link error: the same answer.
    return undefined;
  }
}

const instantiate = (module: WebAssembly.Module) => new WebAssembly.Instance(module).exports as unknown as Kernel;

/**
 * Known answers before the kernel signs anything: messages of one, two and three blocks, either
 * side of each padding boundary, five of them so that a group of four is left part-full, and one
 * fill copied to a second place. The expected bytes come from `node:crypto`.
 */
function passesSelfTest(candidate: Sha1Lanes): boolean {
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
  return candidate
    .fill(template, [{ slots: sha1Slots(slots, subjects), fill: { frame, digestAt: 'token='.length, suffix } }])
    .equals(expected);
}

/**
 * What stays in an instance's memory from one render to the next: the template at OUTPUT_AT and
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

/** Each instance by its memory's current buffer, so that a body can be traced back to the instance it is a view of. */
const owners = new WeakMap<ArrayBufferLike, Sha1Lanes>();

/**
 * One instance of the kernel, with memory of its own, where the playlist is filled in. `fill`
 * hands out a view of that memory as the body itself, so that nothing as long as a playlist is
 * copied after signing: copying a 20,000-channel body out took 1 ms of a 7 ms response, and a
 * second 6.4 MB copy in the CPU's caches. The view holds until the instance's next `fill`, which
 * overwrites it, so an instance serves one body at a time (BufferRecycler lends them).
 */
export class Sha1Lanes {
  private resident: Resident | undefined;
  private heap!: Buffer;

  /** A new instance, or undefined where the kernel is unavailable or its memory cannot be had. */
  static create(): Sha1Lanes | undefined {
    if (!sha1LanesAvailable()) return undefined;
    try {
      return new Sha1Lanes(instantiate(compiled!));
    } catch {
      // Each instance reserves address space for its memory; a process limited in it gets none.
      return undefined;
    }
  }

  /** The instance whose memory `body` is a view of, if one is. */
  static owning(body: Uint8Array): Sha1Lanes | undefined {
    return owners.get(body.buffer);
  }

  constructor(private readonly kernel: Kernel) {
    this.withRoom(0);
  }

  /** The instance's memory, in bytes: it never shrinks, and stays as large as the largest playlist filled. */
  get bytes(): number {
    return this.heap.length;
  }

  /** Whether the last `fill` was of `template`: the next one of it writes only the fills. */
  holds(template: Buffer): boolean {
    return this.resident?.template === template;
  }

  /**
   * `template` with every batch's fills written in, as a view of this instance's memory: valid
   * until the next `fill`.
   */
  fill(template: Buffer, batches: readonly Sha1Batch[]): Buffer {
    const resident = this.residentFor(template, batches);
    const scratchAt = OUTPUT_AT + align(template.length);
    const inputBytes = (batch: Sha1Batch) => align(batch.fill.suffix.length) + align(batch.fill.frame.length);
    const room = batches.reduce(
      (most, batch) => Math.max(most, inputBytes(batch) + Math.min(slotCount(batch), CHUNK_SLOTS) * strideOf(batch)),
      0,
    );
    const heap = this.withRoom(resident.end + room);
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
      this.kernel.fill(
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
    return heap.subarray(OUTPUT_AT, OUTPUT_AT + template.length);
  }

  /** The memory at least `bytes` long, and a view of it (growing replaces the buffer). */
  private withRoom(bytes: number): Buffer {
    const { memory } = this.kernel;
    const missing = bytes - memory.buffer.byteLength;
    if (missing > 0) memory.grow(Math.ceil(missing / PAGE_BYTES));
    if (this.heap?.buffer !== memory.buffer) {
      this.heap = Buffer.from(memory.buffer);
      owners.set(memory.buffer, this);
    }
    return this.heap;
  }

  private residentFor(template: Buffer, batches: readonly Sha1Batch[]): Resident {
    const current = this.resident;
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
    this.resident = undefined;
    const heap = this.withRoom(end);
    heap.set(template, OUTPUT_AT);
    slots.forEach(({ table, subjects }, i) => {
      heap.set(table, tablesAt[i]!);
      heap.set(subjects, subjectsAt[i]!);
    });
    this.resident = { template, slots, tablesAt, subjectsAt, end };
    return this.resident;
  }
}

const align = (bytes: number) => (bytes + 15) & ~15;

/** Bytes per message image: the longest message of the batch, padded to whole blocks. */
const strideOf = ({ slots, fill }: Sha1Batch) => (((slots.longestSubject + fill.suffix.length + 8) >> 6) + 1) << 6;
const slotCount = ({ slots }: Sha1Batch) => slots.table.length / (SLOT_FIELDS * 4);

/**
 * `template` copied into `out` with every batch's fills written in: signed in one instance the
 * process shares, then copied out. Only where `sha1LanesAvailable()`.
 */
export function writeSha1Fills(out: Buffer, template: Buffer, batches: readonly Sha1Batch[]): void {
  if (!sha1LanesAvailable()) throw new Error('the SHA-1 lanes kernel is unavailable in this runtime');
  out.set(shared!.fill(template, batches), 0);
}
