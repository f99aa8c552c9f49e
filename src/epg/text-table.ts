/**
 * Strings kept once each, as UTF-8 in one buffer: a guide repeats its titles (every episode of a
 * series) and many descriptions, and one buffer costs a byte per character where a heap of
 * strings costs more, and more objects for the collector to walk. Text 0 is the empty string.
 */
export class TextTable {
  constructor(
    private readonly bytes: Buffer,
    /** Text i is bytes[bounds[i], bounds[i + 1]). */
    private readonly bounds: Uint32Array,
  ) {}

  static readonly EMPTY = new TextTable(Buffer.alloc(0), new Uint32Array([0, 0]));

  get size(): number {
    return this.bounds.length - 1;
  }

  get byteLength(): number {
    return this.bytes.length;
  }

  text(id: number): string {
    return this.bytes.toString('utf8', this.bounds[id]!, this.bounds[id + 1]!);
  }
}

/** Builds a table: `add` answers the id of a text, the same id for the same text. */
export class TextTableBuilder {
  private bytes = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private bounds = new Uint32Array(1 << 12);
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
    // Copies: the table keeps exactly its bytes, not the slack of the last doubling.
    return new TextTable(Buffer.from(this.bytes.subarray(0, this.used)), this.bounds.slice(0, this.count + 1));
  }

  private textOf(id: number): string {
    return this.bytes.toString('utf8', this.bounds[id]!, this.bounds[id + 1]!);
  }

  private append(text: string): number {
    const most = text.length * 3;
    if (this.used + most > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + most));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    this.used += this.bytes.write(text, this.used, 'utf8');
    if (this.count + 1 >= this.bounds.length) {
      const grown = new Uint32Array(this.bounds.length * 2);
      grown.set(this.bounds);
      this.bounds = grown;
    }
    this.bounds[this.count + 1] = this.used;
    return this.count++;
  }
}

/** FNV-1a over UTF-16 code units: cheap, and collisions are resolved by comparing the text. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
