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
   * Hash → text id, or ids where hashes collide. Keyed by a hash, not the string: a string from
   * the parser may be a slice that keeps its whole source chunk alive.
   */
  private readonly seen = new Map<number, number | number[]>();

  add(text: string): number {
    if (text === '') return 0;
    const hash = hashOf(text);
    const known = this.seen.get(hash);
    if (known !== undefined) {
      for (const id of typeof known === 'number' ? [known] : known) if (this.textOf(id) === text) return id;
    }
    const id = this.append(text);
    this.seen.set(hash, known === undefined ? id : typeof known === 'number' ? [known, id] : [...known, id]);
    return id;
  }

  build(): TextTable {
    // The last block is cut to what it holds; the others are full but for a little slack.
    const blocks = this.blocks.map((block, i) => (i === this.blocks.length - 1 ? Buffer.from(block.subarray(0, this.used)) : block));
    return new TextTable(blocks, this.spans.slice(0, 2 * this.count), this.blockOf.slice(0, this.count));
  }

  private textOf(id: number): string {
    return this.blocks[this.blockOf[id]!]!.toString('utf8', this.spans[2 * id]!, this.spans[2 * id + 1]!);
  }

  private append(text: string): number {
    const most = text.length * 3;
    if (this.used + most > this.block.length) {
      this.block = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, most));
      this.blocks.push(this.block);
      this.used = 0;
    }
    if (this.count === this.blockOf.length) {
      this.blockOf = grown(this.blockOf);
      this.spans = grown(this.spans);
    }
    const start = this.used;
    this.used += this.block.write(text, start, 'utf8');
    this.blockOf[this.count] = this.blocks.length - 1;
    this.spans[2 * this.count] = start;
    this.spans[2 * this.count + 1] = this.used;
    return this.count++;
  }
}

function grown(values: Uint32Array): Uint32Array {
  const bigger = new Uint32Array(values.length * 2);
  bigger.set(values);
  return bigger;
}

/** FNV-1a over UTF-16 code units: cheap, and collisions are resolved by comparing the text. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
