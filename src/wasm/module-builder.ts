/**
 * Just enough of the WebAssembly binary format to write Lineup's one kernel (sha1-lanes.ts): an
 * exported memory and exported functions over i32 and v128 values. Code is written as nested
 * expressions, read like the folded text format: `add(get(a), i32(1))` emits its operands, then
 * its opcode.
 */

export type ValueType = 'i32' | 'v128';
const VALUE_TYPE: Record<ValueType, number> = { i32: 0x7f, v128: 0x7b };

/** Emits one expression's bytes: its operands' first, then its own. */
export type Expr = (out: number[]) => void;

function uleb(value: number, out: number[] = []): number[] {
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function sleb(value: number, out: number[] = []): number[] {
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** An instruction: its operands, then its opcode bytes and immediates. */
const op =
  (code: readonly number[], ...operands: Expr[]): Expr =>
  (out) => {
    for (const operand of operands) operand(out);
    out.push(...code);
  };

const SIMD = 0xfd;
/** A SIMD instruction (prefix 0xfd) with its immediates. */
const simd = (opcode: number, immediates: readonly number[], ...operands: Expr[]): Expr =>
  op([SIMD, ...uleb(opcode), ...immediates], ...operands);

/** A load or store immediate: alignment exponent 0 (any address) and a constant offset. */
const memarg = (offset = 0): number[] => [0, ...uleb(offset)];

export const seq =
  (...exprs: Expr[]): Expr =>
  (out) => {
    for (const expr of exprs) expr(out);
  };

/** Locals of one function, parameters first; each is its index. */
export class Locals {
  private readonly declared: ValueType[] = [];
  constructor(readonly params: readonly ValueType[]) {}

  add(type: ValueType): number {
    this.declared.push(type);
    return this.params.length + this.declared.length - 1;
  }

  /** The body's locals vector: runs of one type. */
  encode(): number[] {
    const runs: [number, ValueType][] = [];
    for (const type of this.declared) {
      const last = runs[runs.length - 1];
      if (last && last[1] === type) last[0]++;
      else runs.push([1, type]);
    }
    return [...uleb(runs.length), ...runs.flatMap(([count, type]) => [...uleb(count), VALUE_TYPE[type]])];
  }
}

export interface FunctionDefinition {
  name: string;
  locals: Locals;
  body: Expr;
}

const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (text: string): number[] => {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
};

/** A module with one exported memory ("memory", `pages` of 64 KiB to start) and the functions, exported by name; none returns a value. */
export function buildModule(functions: readonly FunctionDefinition[], pages: number): Uint8Array {
  const types = functions.map((fn) => [0x60, ...vector(fn.locals.params.map((type) => [VALUE_TYPE[type]])), 0]);
  const codes = functions.map((fn) => {
    const body: number[] = [...fn.locals.encode()];
    fn.body(body);
    body.push(0x0b);
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(3, vector(functions.map((_, index) => uleb(index)))),
    ...section(5, vector([[0x00, ...uleb(pages)]])),
    ...section(7, vector([[...name('memory'), 0x02, 0], ...functions.map((fn, index) => [...name(fn.name), 0x00, ...uleb(index)])])),
    ...section(10, vector(codes)),
  ]);
}

/** The instructions the kernel uses, as expressions. Addresses and counts are i32. */
export const i32 = {
  const: (value: number): Expr => op([0x41, ...sleb(value | 0)]),
  add: (a: Expr, b: Expr) => op([0x6a], a, b),
  sub: (a: Expr, b: Expr) => op([0x6b], a, b),
  mul: (a: Expr, b: Expr) => op([0x6c], a, b),
  shl: (a: Expr, b: Expr) => op([0x74], a, b),
  shrU: (a: Expr, b: Expr) => op([0x76], a, b),
  geS: (a: Expr, b: Expr) => op([0x4e], a, b),
  ltU: (a: Expr, b: Expr) => op([0x49], a, b),
  geU: (a: Expr, b: Expr) => op([0x4f], a, b),
  gtU: (a: Expr, b: Expr) => op([0x4b], a, b),
  load: (address: Expr, offset = 0) => op([0x28, ...memarg(offset)], address),
  store8: (address: Expr, value: Expr, offset = 0) => op([0x3a, ...memarg(offset)], address, value),
  /** `condition ? a : b` */
  select: (a: Expr, b: Expr, condition: Expr) => op([0x1b], a, b, condition),
};

export const local = {
  get: (index: number): Expr => op([0x20, ...uleb(index)]),
  set: (index: number, value: Expr): Expr => op([0x21, ...uleb(index)], value),
  tee: (index: number, value: Expr): Expr => op([0x22, ...uleb(index)], value),
};

export const memory = {
  copy: (to: Expr, from: Expr, bytes: Expr) => op([0xfc, ...uleb(10), 0, 0], to, from, bytes),
  fill: (to: Expr, byte: Expr, bytes: Expr) => op([0xfc, ...uleb(11), 0], to, byte, bytes),
};

export const control = {
  /** `for (; counter < limit; counter += step) body` (unsigned compare); `body` must not branch out. */
  forLoop: (counter: number, limit: Expr, step: Expr, ...body: Expr[]): Expr =>
    seq(
      op([0x02, 0x40]),
      op([0x03, 0x40]),
      op([0x0d, ...uleb(1)], i32.geU(local.get(counter), limit)),
      ...body,
      local.set(counter, i32.add(local.get(counter), step)),
      op([0x0c, ...uleb(0)]),
      op([0x0b]),
      op([0x0b]),
    ),
  when: (condition: Expr, ...body: Expr[]): Expr => seq(op([0x04, 0x40], condition), ...body, op([0x0b])),
};

export const v128 = {
  const: (bytes: readonly number[]): Expr => simd(0x0c, bytes),
  load: (address: Expr, offset = 0) => simd(0x00, memarg(offset), address),
  store: (address: Expr, value: Expr, offset = 0) => simd(0x0b, memarg(offset), address, value),
  load32Zero: (address: Expr, offset = 0) => simd(0x5c, memarg(offset), address),
  load32Lane: (address: Expr, vector: Expr, lane: number, offset = 0) => simd(0x56, [...memarg(offset), lane], address, vector),
  store32Lane: (address: Expr, vector: Expr, lane: number, offset = 0) => simd(0x5a, [...memarg(offset), lane], address, vector),
  store64Lane: (address: Expr, vector: Expr, lane: number, offset = 0) => simd(0x5b, [...memarg(offset), lane], address, vector),
  shuffle: (lanes: readonly number[], a: Expr, b: Expr) => simd(0x0d, lanes, a, b),
  swizzle: (table: Expr, indices: Expr) => simd(0x0e, [], table, indices),
  and: (a: Expr, b: Expr) => simd(0x4e, [], a, b),
  or: (a: Expr, b: Expr) => simd(0x50, [], a, b),
  xor: (a: Expr, b: Expr) => simd(0x51, [], a, b),
  /** Bits of `a` where `mask` is 1, of `b` where it is 0. */
  bitselect: (a: Expr, b: Expr, mask: Expr) => simd(0x52, [], a, b, mask),
  i8x16ShrU: (a: Expr, bits: Expr) => simd(0x6d, [], a, bits),
  i8x16Splat: (value: Expr) => simd(0x0f, [], value),
  i32x4Splat: (value: Expr) => simd(0x11, [], value),
  i32x4ReplaceLane: (vector: Expr, lane: number, value: Expr) => simd(0x1c, [lane], vector, value),
  i32x4GtS: (a: Expr, b: Expr) => simd(0x3b, [], a, b),
  i32x4Shl: (a: Expr, bits: Expr) => simd(0xab, [], a, bits),
  i32x4ShrU: (a: Expr, bits: Expr) => simd(0xad, [], a, bits),
  i32x4Add: (a: Expr, b: Expr) => simd(0xae, [], a, b),
};
