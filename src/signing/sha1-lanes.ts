import { buildModule, control, type Expr, type FunctionDefinition, i32, Locals, local, memory, seq, v128 } from '../wasm/module-builder.js';

/**
 * SHA-1 over many short messages at once: four in the lanes of each SIMD register, in WebAssembly.
 * A cold playlist signs one token per channel, and `crypto.hash` costs a call into OpenSSL each
 * (a context set up and torn down for two blocks of input): that call was the largest part of a
 * response. Here a whole playlist's tokens are one call, about three times faster, with the
 * padding, the hex and the copies into the output done in the same pass.
 *
 * The digests are the standard SHA-1 of each message; tests hold them to `node:crypto`.
 */

/** One token's place in a playlist, as `Int32Array` fields (see SLOT_FIELDS). */
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
  /** SLOT_FIELDS numbers per slot, in the order of Sha1Slot's fields. */
  table: Int32Array;
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

const SLOT_FIELDS = 4;

export function sha1Slots(slots: readonly Sha1Slot[], subjects: readonly Buffer[]): Sha1Slots {
  const table = new Int32Array(slots.length * SLOT_FIELDS);
  slots.forEach((slot, i) => table.set([slot.subjectStart, slot.subjectLength, slot.fillAt, slot.copyAt], i * SLOT_FIELDS));
  return {
    subjects: Buffer.concat(subjects),
    table,
    longestSubject: slots.reduce((longest, slot) => Math.max(longest, slot.subjectLength), 0),
  };
}

const BYTE_SWAP = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12];
const HEX_DIGITS = [...Buffer.from('0123456789abcdef', 'latin1')];
const INITIAL_STATE = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
const ROUND_CONSTANTS = [0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6];
/** Bytes a group of four writes its digests to before they are hex-encoded. */
const SCRATCH_BYTES = 96;

const PARAMS = ['table', 'count', 'subjects', 'suffix', 'suffixLength', 'frame', 'frameLength', 'digestAt', 'images', 'stride', 'out', 'scratch'] as const;

/**
 * `fill(table, count, subjects, suffix, suffixLength, frame, frameLength, digestAt, images, stride,
 * out, scratch)`: for each slot, the frame copied to `out + fillAt`, with the hex of
 * `sha1(subject ‖ suffix)` at `digestAt` in it, and copied again to `out + copyAt` when that is set.
 * `images` has `stride` bytes per slot to lay out and pad its message in.
 */
function fillKernel(): FunctionDefinition {
  const locals = new Locals(PARAMS.map(() => 'i32' as const));
  const param = Object.fromEntries(PARAMS.map((name, index) => [name, local.get(index)])) as Record<(typeof PARAMS)[number], Expr>;
  const { get, set, tee } = local;
  const c = i32.const;
  const zero = v128.const(Array(16).fill(0));
  const [slot, record, image, length, messageEnd, group, block, blocks, index] = Array.from({ length: 9 }, () => locals.add('i32')) as number[] as Nine;
  const laneRecord = LANES.map(() => locals.add('i32'));
  const laneImage = LANES.map(() => locals.add('i32'));
  const state = INITIAL_STATE.map(() => locals.add('v128'));
  const work = INITIAL_STATE.map(() => locals.add('v128'));
  const schedule = Array.from({ length: 16 }, () => locals.add('v128'));
  const [mixed, laneBlocks, high, low] = Array.from({ length: 4 }, () => locals.add('v128')) as number[] as Four;

  /** Blocks of a padded message of `bytes`: room for the 0x80 byte and the 64-bit length. */
  const blocksOf = (bytes: Expr) => i32.add(i32.shrU(i32.add(bytes, c(8)), c(6)), c(1));
  const rotl = (index: number, bits: number) => v128.or(v128.i32x4Shl(get(index), c(bits)), v128.i32x4ShrU(get(index), c(32 - bits)));
  const at = (base: number, offset: Expr) => i32.add(get(base), offset);

  // Phase 1: each message laid out and padded, and each frame copied into the output.
  const layOut = control.forLoop(
    slot,
    param.count,
    c(1),
    set(record, i32.add(param.table, i32.shl(get(slot), c(4)))),
    set(image, i32.add(param.images, i32.mul(get(slot), param.stride))),
    set(length, i32.load(get(record), 4)),
    memory.copy(get(image), i32.add(param.subjects, i32.load(get(record), 0)), get(length)),
    memory.copy(at(image, get(length)), param.suffix, param.suffixLength),
    set(length, i32.add(get(length), param.suffixLength)),
    i32.store8(at(image, get(length)), c(0x80)),
    set(messageEnd, i32.shl(blocksOf(get(length)), c(6))),
    // Zeros up to the length's low 32 bits: messages are far below 2^29 bytes.
    memory.fill(at(image, i32.add(get(length), c(1))), c(0), i32.sub(get(messageEnd), i32.add(get(length), c(5)))),
    set(length, i32.shl(get(length), c(3))),
    ...[0, 1, 2, 3].map((byte) => i32.store8(at(image, i32.sub(get(messageEnd), c(byte + 1))), i32.shrU(get(length), c(8 * byte)))),
    memory.copy(i32.add(param.out, i32.load(get(record), 8)), param.frame, param.frameLength),
  );

  // One 64-byte block of four messages: words read big-endian, 80 rounds, and the sums kept only
  // in the lanes whose message has this block.
  const words = schedule.map((word, t) =>
    set(
      word,
      v128.shuffle(
        BYTE_SWAP,
        LANES.slice(1).reduce((vector, lane) => v128.load32Lane(get(laneImage[lane]!), vector, lane, t * 4), v128.load32Zero(get(laneImage[0]!), t * 4)),
        zero,
      ),
    ),
  );
  const rounds: Expr[] = work.map((variable, i) => set(variable, get(state[i]!)));
  let [a, b, cc, d, e] = work as Five;
  for (let t = 0; t < 80; t++) {
    const w = (k: number) => get(schedule[k % 16]!);
    if (t >= 16) {
      const mixedWords = v128.xor(v128.xor(w(t - 3), w(t - 8)), v128.xor(w(t - 14), w(t)));
      rounds.push(set(schedule[t % 16]!, v128.or(v128.i32x4Shl(tee(mixed, mixedWords), c(1)), v128.i32x4ShrU(get(mixed), c(31)))));
    }
    const f =
      t < 20
        ? v128.bitselect(get(cc), get(d), get(b))
        : t < 40 || t >= 60
          ? v128.xor(v128.xor(get(b), get(cc)), get(d))
          : v128.bitselect(get(d), get(b), v128.xor(get(b), get(cc)));
    const k = v128.i32x4Splat(c(ROUND_CONSTANTS[Math.floor(t / 20)]!));
    rounds.push(set(e, v128.i32x4Add(v128.i32x4Add(rotl(a, 5), f), v128.i32x4Add(v128.i32x4Add(get(e), k), w(t)))), set(b, rotl(b, 30)));
    [a, b, cc, d, e] = [e, a, b, cc, d];
  }
  const hasBlock = v128.i32x4GtS(get(laneBlocks), v128.i32x4Splat(get(block)));
  const mixIn = [a, b, cc, d, e].map((variable, i) =>
    set(state[i]!, v128.bitselect(v128.i32x4Add(get(state[i]!), get(variable)), get(state[i]!), hasBlock)),
  );

  const lanesOfGroup = LANES.flatMap((lane) => {
    const laneBlockCount = blocksOf(i32.add(i32.load(get(laneRecord[lane]!), 4), param.suffixLength));
    return [
      set(index, i32.add(get(group), c(lane))),
      set(index, i32.select(get(index), i32.sub(param.count, c(1)), i32.ltU(get(index), param.count))),
      set(laneRecord[lane]!, i32.add(param.table, i32.shl(get(index), c(4)))),
      set(laneImage[lane]!, i32.add(param.images, i32.mul(get(index), param.stride))),
      set(laneBlocks, v128.i32x4ReplaceLane(get(laneBlocks), lane, laneBlockCount)),
      set(blocks, i32.select(laneBlockCount, get(blocks), i32.gtU(laneBlockCount, get(blocks)))),
    ];
  });

  const digestsToScratch = state.map((variable, i) =>
    seq(set(mixed, v128.shuffle(BYTE_SWAP, get(variable), zero)), ...LANES.map((lane) => v128.store32Lane(param.scratch, get(mixed), lane, lane * 20 + i * 4))),
  );
  const hexDigits = (bytes: Expr) =>
    seq(
      set(high, v128.swizzle(v128.const(HEX_DIGITS), v128.i8x16ShrU(tee(mixed, bytes), c(4)))),
      set(low, v128.swizzle(v128.const(HEX_DIGITS), v128.and(get(mixed), v128.i8x16Splat(c(0x0f))))),
    );
  /** The hex of 8 bytes starting at `from`: each byte's high digit, then its low one. */
  const interleaved = (from: number) =>
    v128.shuffle(Array.from({ length: 16 }, (_, i) => (i % 2 ? 16 : 0) + from + (i >> 1)), get(high), get(low));
  const hexToFills = LANES.map((lane) => {
    const fillAt = i32.add(param.out, i32.load(get(laneRecord[lane]!), 8));
    const copyAt = i32.load(get(laneRecord[lane]!), 12);
    return seq(
      set(image, i32.add(fillAt, param.digestAt)),
      hexDigits(v128.load(param.scratch, lane * 20)),
      v128.store(get(image), interleaved(0)),
      v128.store(get(image), interleaved(8), 16),
      hexDigits(v128.load32Zero(param.scratch, lane * 20 + 16)),
      v128.store64Lane(get(image), interleaved(0), 0, 32),
      control.when(i32.geS(copyAt, c(0)), memory.copy(i32.add(param.out, copyAt), fillAt, param.frameLength)),
    );
  });

  // Phase 2: groups of four slots. Past the last slot a lane repeats it, writing the same bytes again.
  const hashGroups = control.forLoop(
    group,
    param.count,
    c(4),
    set(blocks, c(0)),
    set(laneBlocks, zero),
    ...lanesOfGroup,
    ...state.map((variable, i) => set(variable, v128.i32x4Splat(c(INITIAL_STATE[i]!)))),
    set(block, c(0)),
    control.forLoop(block, get(blocks), c(1), ...words, ...rounds, ...mixIn, ...laneImage.map((pointer) => set(pointer, i32.add(get(pointer), c(64))))),
    ...digestsToScratch,
    ...hexToFills,
  );

  return { name: 'fill', locals, body: seq(set(slot, c(0)), layOut, set(group, c(0)), hashGroups) };
}

type Four = [number, number, number, number];
type Five = [number, number, number, number, number];
type Nine = [number, number, number, number, number, number, number, number, number];
const LANES = [0, 1, 2, 3];

const PAGE_BYTES = 64 * 1024;
/** The first bytes of the kernel's memory stay unused, so that no region starts at address 0. */
const OUTPUT_AT = 64;
const wasmModule = new WebAssembly.Module(buildModule([fillKernel()], 1));

interface Kernel {
  memory: WebAssembly.Memory;
  fill(...args: number[]): void;
}
let kernel: Kernel | undefined;

/** The kernel, its memory at least `bytes` long, and a view of that memory (growing replaces the buffer). */
function kernelWithRoom(bytes: number): { fill: Kernel['fill']; heap: Buffer } {
  kernel ??= new WebAssembly.Instance(wasmModule).exports as unknown as Kernel;
  const missing = bytes - kernel.memory.buffer.byteLength;
  if (missing > 0) kernel.memory.grow(Math.ceil(missing / PAGE_BYTES));
  return { fill: kernel.fill, heap: Buffer.from(kernel.memory.buffer) };
}

const align = (bytes: number) => (bytes + 15) & ~15;

/** Bytes per message image: the longest message of the batch, padded to whole blocks. */
const strideOf = ({ slots, fill }: Sha1Batch) => (((slots.longestSubject + fill.suffix.length + 8) >> 6) + 1) << 6;
const slotCount = ({ slots }: Sha1Batch) => slots.table.length / SLOT_FIELDS;

/**
 * `template` copied into `out` with every batch's fills written in. The work happens in the
 * kernel's memory, followed by one copy out; nothing but `out` outlives the call.
 */
export function writeSha1Fills(out: Buffer, template: Buffer, batches: readonly Sha1Batch[]): void {
  const scratchAt = OUTPUT_AT + align(template.length);
  const inputsAt = scratchAt + SCRATCH_BYTES;
  const inputBytes = (batch: Sha1Batch) =>
    align(batch.slots.table.byteLength) + align(batch.slots.subjects.length) + align(batch.fill.suffix.length) + align(batch.fill.frame.length);
  const room = batches.reduce((most, batch) => Math.max(most, inputBytes(batch) + slotCount(batch) * strideOf(batch)), 0);
  const { fill, heap } = kernelWithRoom(inputsAt + room);
  heap.set(template, OUTPUT_AT);
  for (const batch of batches) {
    const { slots, fill: shared } = batch;
    if (slotCount(batch) === 0) continue;
    let next = inputsAt;
    const place = (bytes: Uint8Array) => {
      const placed = next;
      heap.set(bytes, placed);
      next += align(bytes.length);
      return placed;
    };
    const tableAt = place(new Uint8Array(slots.table.buffer, slots.table.byteOffset, slots.table.byteLength));
    const subjectsAt = place(slots.subjects);
    const suffixAt = place(shared.suffix);
    const frameAt = place(shared.frame);
    fill(tableAt, slotCount(batch), subjectsAt, suffixAt, shared.suffix.length, frameAt, shared.frame.length, shared.digestAt, next, strideOf(batch), OUTPUT_AT, scratchAt);
  }
  out.set(heap.subarray(OUTPUT_AT, OUTPUT_AT + template.length), 0);
}
