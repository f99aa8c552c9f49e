/** Bytes per block of text: large enough that the slack at each block's end is small, small enough that no block is ever copied to grow. */
const BLOCK_BYTES = 1 << 20;

/**
 * Strings kept once each, as UTF-8 in blocks of a megabyte: a guide repeats its titles (every
 * episode of a series) and many descriptions, and bytes cost a byte per character where a heap of
 * strings costs more, and more objects for the collector to walk. Blocks are filled in turn and
 * never reallocated, so loading never holds two copies of the text. Text 0 is the empty string.
 */
export class TextTable {
  constructor(
    private readonly blocks: readonly Buffer[],
    /** Text i is bytes [spans[2i], spans[2i + 1]) of block blockOf[i]. */
    private readonly spans: Uint32Array,
    private readonly blockOf: Uint32Array,
  ) {}

  static readonly EMPTY = new TextTable([], new Uint32Array(2), new Uint32Array(1));

  get size(): number {
    return this.blockOf.length;
  }

  /** Bytes of the blocks, slack included: what the table costs. */
  get byteLength(): number {
    return this.blocks.reduce((sum, block) => sum + block.length, 0);
  }

  text(id: number): string {
    if (id === 0) return '';
    return this.blocks[this.blockOf[id]!]!.toString('utf8', this.spans[2 * id]!, this.spans[2 * id + 1]!);
  }
}

/** Builds a table: `add` answers the id of a text, the same id for the same text. */
export class TextTableBuilder {
  private readonly blocks: Buffer[] = [];
  private block = Buffer.alloc(0);
  private used = 0;
  private spans: Uint32Array = new Uint32Array(1 << 13);
  private blockOf: Uint32Array = new Uint32Array(1 << 12);
  private count = 1;
  /**
   * Hash of the bytes → text id, or ids where hashes collide. Keyed by a hash, not the string: a
   * string from the parser may be a slice that keeps its whole source chunk alive.
   */
  private readonly seen = new Map<number, number | number[]>();

  add(text: string): number {
    if (text === '') return 0;
    // Written first, where it would be kept: the bytes are hashed and compared in place, so that
    // finding a repeat allocates nothing; a repeat's bytes are simply overwritten by the next text.
    const most = text.length * 3;
    if (this.used + most > this.block.length) {
      this.block = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, most));
      this.blocks.push(this.block);
      this.used = 0;
    }
    const start = this.used;
    const end = start + this.block.write(text, start, 'utf8');
    const hash = hashOf(this.block, start, end);
    const known = this.seen.get(hash);
    if (known !== undefined) {
      for (const id of typeof known === 'number' ? [known] : known) if (this.holds(id, start, end)) return id;
    }
    if (this.count === this.blockOf.length) {
      this.blockOf = grown(this.blockOf);
      this.spans = grown(this.spans);
    }
    const id = this.count++;
    this.blockOf[id] = this.blocks.length - 1;
    this.spans[2 * id] = start;
    this.spans[2 * id + 1] = end;
    this.used = end;
    this.seen.set(hash, known === undefined ? id : typeof known === 'number' ? [known, id] : [...known, id]);
    return id;
  }

  build(): TextTable {
    // The last block is cut to what it holds; the others are full but for a little slack.
    const blocks = this.blocks.map((block, i) => (i === this.blocks.length - 1 ? Buffer.from(block.subarray(0, this.used)) : block));
    return new TextTable(blocks, this.spans.slice(0, 2 * this.count), this.blockOf.slice(0, this.count));
  }

  /** Whether text `id` is the bytes [start, end) of the current block. */
  private holds(id: number, start: number, end: number): boolean {
    const from = this.spans[2 * id]!;
    const to = this.spans[2 * id + 1]!;
    return to - from === end - start && this.blocks[this.blockOf[id]!]!.compare(this.block, start, end, from, to) === 0;
  }
}

function grown(values: Uint32Array): Uint32Array {
  const bigger = new Uint32Array(values.length * 2);
  bigger.set(values);
  return bigger;
}

/** FNV-1a over bytes, cut to 30 bits (a small integer, no heap number per Map key); collisions are resolved by comparing the bytes. */
function hashOf(bytes: Buffer, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash & 0x3fffffff;
}
