import { buildModule, control, type Expr, i32, Locals, local, memory, seq, v128 } from '../wasm/module-builder.js';

/**
 * The WebAssembly behind sha1-lanes.ts: SHA-1 with four messages in the lanes of each v128
 * register, rounds unrolled. Generating it takes tens of milliseconds and several MB of
 * short-lived objects, so it does not run in the service: `npm run kernel` writes the bytes to
 * sha1-lanes-wasm.ts, and a test fails if those differ from what this file generates.
 */

/** Numbers per slot in the table the kernel reads: subject start, subject length, fill at, copy at. */
export const SLOT_FIELDS = 4;
/** Bytes a group of four writes its digests to before they are hex-encoded. */
export const SCRATCH_BYTES = 96;
/** Slots laid out at once, then hashed: 128 images of two blocks stay in the first-level cache. A multiple of four. */
export const CHUNK_SLOTS = 128;

const BYTE_SWAP = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12];
const HEX_DIGITS = [...Buffer.from('0123456789abcdef', 'latin1')];
const INITIAL_STATE = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
const ROUND_CONSTANTS = [0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6];

const PARAMS = [
  'table',
  'count',
  'subjects',
  'suffix',
  'suffixLength',
  'frame',
  'frameLength',
  'digestAt',
  'images',
  'stride',
  'out',
  'scratch',
] as const;

/**
 * `fill(table, count, subjects, suffix, suffixLength, frame, frameLength, digestAt, images, stride,
 * out, scratch)`: for each slot, the frame copied to `out + fillAt`, with the hex of
 * `sha1(subject ‖ suffix)` at `digestAt` in it, and copied again to `out + copyAt` when that is set.
 * `images` has `stride` bytes for each of CHUNK_SLOTS messages, laid out and padded a chunk at a
 * time just before they are hashed: laying out a whole playlist's first took stride bytes per
 * channel (2.5 MB at 20,000 channels), written and then read back from beyond the CPU's caches.
 */
function fillKernel() {
  const locals = new Locals(PARAMS.map(() => 'i32' as const));
  const param = Object.fromEntries(PARAMS.map((name, index) => [name, local.get(index)])) as Record<(typeof PARAMS)[number], Expr>;
  const { get, set, tee } = local;
  const c = i32.const;
  const zero = v128.const(Array(16).fill(0));
  const [slot, record, image, length, messageEnd, group, block, blocks, index, chunk, chunkEnd] = Array.from({ length: 11 }, () =>
    locals.add('i32'),
  ) as number[] as Eleven;
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

  /** Where a slot of this chunk lays out its message. */
  const imageOf = (slotIndex: Expr) => i32.add(param.images, i32.mul(i32.sub(slotIndex, get(chunk)), param.stride));

  // Phase 1: each message of the chunk laid out and padded, and each frame copied into the output.
  const layOut = control.forLoop(
    slot,
    get(chunkEnd),
    c(1),
    set(record, i32.add(param.table, i32.shl(get(slot), c(4)))),
    set(image, imageOf(get(slot))),
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
        LANES.slice(1).reduce(
          (vector, lane) => v128.load32Lane(get(laneImage[lane]!), vector, lane, t * 4),
          v128.load32Zero(get(laneImage[0]!), t * 4),
        ),
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
      set(laneImage[lane]!, imageOf(get(index))),
      set(laneBlocks, v128.i32x4ReplaceLane(get(laneBlocks), lane, laneBlockCount)),
      set(blocks, i32.select(laneBlockCount, get(blocks), i32.gtU(laneBlockCount, get(blocks)))),
    ];
  });

  const digestsToScratch = state.map((variable, i) =>
    seq(
      set(mixed, v128.shuffle(BYTE_SWAP, get(variable), zero)),
      ...LANES.map((lane) => v128.store32Lane(param.scratch, get(mixed), lane, lane * 20 + i * 4)),
    ),
  );
  const hexDigits = (bytes: Expr) =>
    seq(
      set(high, v128.swizzle(v128.const(HEX_DIGITS), v128.i8x16ShrU(tee(mixed, bytes), c(4)))),
      set(low, v128.swizzle(v128.const(HEX_DIGITS), v128.and(get(mixed), v128.i8x16Splat(c(0x0f))))),
    );
  /** The hex of 8 bytes starting at `from`: each byte's high digit, then its low one. */
  const interleaved = (from: number) =>
    v128.shuffle(
      Array.from({ length: 16 }, (_, i) => (i % 2 ? 16 : 0) + from + (i >> 1)),
      get(high),
      get(low),
    );
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

  // Phase 2: the chunk's groups of four slots. Past the last slot a lane repeats it, writing the
  // same bytes again; the last slot is in the last chunk, which a chunk's groups never pass.
  const hashGroups = control.forLoop(
    group,
    get(chunkEnd),
    c(4),
    set(blocks, c(0)),
    set(laneBlocks, zero),
    ...lanesOfGroup,
    ...state.map((variable, i) => set(variable, v128.i32x4Splat(c(INITIAL_STATE[i]!)))),
    set(block, c(0)),
    control.forLoop(
      block,
      get(blocks),
      c(1),
      ...words,
      ...rounds,
      ...mixIn,
      ...laneImage.map((pointer) => set(pointer, i32.add(get(pointer), c(64)))),
    ),
    ...digestsToScratch,
    ...hexToFills,
  );

  return {
    name: 'fill',
    locals,
    body: seq(
      set(chunk, c(0)),
      control.forLoop(
        chunk,
        param.count,
        c(CHUNK_SLOTS),
        set(chunkEnd, i32.add(get(chunk), c(CHUNK_SLOTS))),
        set(chunkEnd, i32.select(get(chunkEnd), param.count, i32.ltU(get(chunkEnd), param.count))),
        set(slot, get(chunk)),
        layOut,
        set(group, get(chunk)),
        hashGroups,
      ),
    ),
  };
}

type Four = [number, number, number, number];
type Five = [number, number, number, number, number];
type Eleven = [number, number, number, number, number, number, number, number, number, number, number];
const LANES = [0, 1, 2, 3];

/** The module: its memory exported as `memory`, the kernel as `fill`. */
export function sha1LanesModule(): Uint8Array {
  return buildModule([fillKernel()], 1);
}
