import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { releaseMemory } from './release-memory.js';

/** Bytes of text gathered in memory before they are written to the file: a few writes per megabyte, little memory. */
const PENDING_BYTES = 1 << 18;

/** Where texts are read back; grown when a text is longer (a title or description is cut at 16k characters, 48 kB of UTF-8). */
let scratch = Buffer.allocUnsafe(1 << 16);

function scratchOf(length: number): Buffer {
  if (scratch.length < length) scratch = Buffer.allocUnsafe(length);
  return scratch;
}

/** Bytes of a page of the cache, and pages a table keeps: a quarter of a megabyte. */
const PAGE_BYTES = 1 << 12;
const PAGES = 64;

/** Bytes of the texts used most (series titles, repeated descriptions) that a table keeps in memory. */
const HOT_BYTES = 1 << 20;

/** Reads exactly `length` bytes at `position` of `fd` into `into` (the scratch buffer unless given). */
function readAt(fd: number, position: number, length: number, into = scratchOf(length)): Buffer {
  for (let done = 0; done < length; ) {
    const read = readSync(fd, into, done, length - done, position + done);
    if (read === 0) throw new Error('the guide text file is shorter than its index');
    done += read;
  }
  return into;
}

/**
 * A table's file is closed when the table is collected, not when a reload replaces it: a request
 * may still be streaming `/xmltv.php` from the old one. The file is unlinked from the start, so
 * closing it is what frees its disk space (and a crash leaves nothing behind).
 */
const closeWhenCollected = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to free.
  }
});

/**
 * Strings kept once each, as UTF-8 in an unlinked file in the temporary directory, read back
 * with positioned reads: a guide's titles and descriptions are most of its index (14 MB of a
 * 50 MB guide), and bytes in the kernel's page cache cost the process no RSS, where the same
 * bytes in its heap pushed a large server past its memory target. Text 0 is the empty string.
 */
export class TextTable {
  constructor(
    /** The file's descriptor; -1 for a table with no text. */
    private readonly fd: number,
    /** Text i is `lengths[i]` bytes at `offsets[i]` of the file, or at `-offsets[i] - 1` of `hot`. */
    private readonly offsets: Float64Array,
    private readonly lengths: Uint32Array,
    /** Bytes of the file. */
    readonly byteLength: number,
    /** The texts read most, kept in memory (their offsets are negative). */
    private readonly hot: Buffer = Buffer.alloc(0),
  ) {
    if (fd >= 0) closeWhenCollected.register(this, fd);
  }

  /**
   * Pages of the file read lately, the least recent first: the answers that read many programmes
   * (a channel's table, `/xmltv.php`) read texts the guide wrote near each other (a channel's day),
   * and a read from memory costs a fraction of a system call per text.
   */
  private readonly pages = new Map<number, Buffer>();

  static readonly EMPTY = new TextTable(-1, new Float64Array(1), new Uint32Array(1), 0);

  get size(): number {
    return this.lengths.length;
  }

  text(id: number): string {
    const length = this.lengths[id]!;
    if (length === 0) return '';
    const offset = this.offsets[id]!;
    if (offset < 0) return this.hot.toString('utf8', -offset - 1, -offset - 1 + length);
    const page = Math.floor(offset / PAGE_BYTES);
    const at = offset - page * PAGE_BYTES;
    // A text across two pages is read on its own.
    if (at + length > PAGE_BYTES) return readAt(this.fd, offset, length).toString('utf8', 0, length);
    return this.page(page).toString('utf8', at, at + length);
  }

  private page(page: number): Buffer {
    let bytes = this.pages.get(page);
    if (bytes) {
      this.pages.delete(page);
    } else {
      const oldest = this.pages.size < PAGES ? undefined : this.pages.keys().next().value;
      if (oldest === undefined) bytes = Buffer.allocUnsafe(PAGE_BYTES);
      else {
        // The page read longest ago gives its buffer: reading allocates nothing once the cache is full.
        bytes = this.pages.get(oldest)!;
        this.pages.delete(oldest);
      }
      const start = page * PAGE_BYTES;
      readAt(this.fd, start, Math.min(PAGE_BYTES, this.byteLength - start), bytes);
    }
    this.pages.set(page, bytes);
    return bytes;
  }
}

/** A new file in `directory`, already unlinked: only its descriptor holds it. */
function openUnlinked(directory: string): number {
  const path = join(directory, `lineup-guide-${process.pid}-${randomUUID()}.texts`);
  const fd = openSync(path, 'wx+', 0o600);
  unlinkSync(path);
  return fd;
}

function writeAt(fd: number, bytes: Buffer, length: number, position: number): void {
  for (let done = 0; done < length; ) done += writeSync(fd, bytes, done, length - done, position + done);
}

/** Builds a table: `add` answers the id of a text, the same id for the same text. */
export class TextTableBuilder {
  private readonly fd: number;
  /** Bytes not yet in the file: they go at `flushed`. */
  private pending = Buffer.allocUnsafe(PENDING_BYTES);
  private used = 0;
  private flushed = 0;
  private offsets = new Float64Array(1 << 12);
  private lengths = new Uint32Array(1 << 12);
  private hashes = new Uint32Array(1 << 12);
  private count = 1;
  /**
   * Text ids by the hash of their bytes, open addressing (0 is a free slot), at most half full:
   * a typed array rather than a Map, so that tens of thousands of texts make no heap objects
   * and no garbage as it grows. Hashed bytes, not strings: a string from the parser may be a
   * slice that keeps its whole source chunk alive.
   */
  private slots = new Uint32Array(1 << 13);

  constructor(directory = tmpdir()) {
    this.fd = openUnlinked(directory);
  }

  add(text: string): number {
    if (text === '') return 0;
    // Written first, where it would be kept: the bytes are hashed and compared in place, so that
    // finding a repeat allocates nothing; a repeat's bytes are simply overwritten by the next text.
    const most = text.length * 3;
    if (this.used + most > this.pending.length) {
      this.flush();
      if (most > this.pending.length) this.pending = Buffer.allocUnsafe(most);
    }
    const start = this.used;
    const end = start + this.pending.write(text, start, 'utf8');
    const hash = hashOf(this.pending, start, end);
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    for (let id = this.slots[slot]!; id !== 0; slot = (slot + 1) & mask, id = this.slots[slot]!) {
      if (this.hashes[id] === hash && this.holds(id, start, end)) return id;
    }
    if (this.count === this.lengths.length) {
      this.offsets = grown(this.offsets);
      this.lengths = grown(this.lengths);
      this.hashes = grown(this.hashes);
    }
    const id = this.count++;
    this.offsets[id] = this.flushed + start;
    this.lengths[id] = end - start;
    this.hashes[id] = hash;
    this.used = end;
    this.slots[slot] = id;
    if (2 * this.count > this.slots.length) this.rehash();
    return id;
  }

  /**
   * The table; the texts `columns` (text ids, row by row) use most are copied into memory, up to a
   * megabyte: series titles and repeated descriptions, which many requests read. The builder is
   * done with.
   */
  build(columns: readonly Uint32Array[]): TextTable {
    this.flush();
    const offsets = this.offsets.slice(0, this.count);
    const lengths = this.lengths.slice(0, this.count);
    const chosen: number[] = [];
    let hotBytes = 0;
    for (const id of this.mostUsed(columns)) {
      if (hotBytes + lengths[id]! > HOT_BYTES) break;
      chosen.push(id);
      hotBytes += lengths[id]!;
    }
    const hot = Buffer.allocUnsafe(hotBytes);
    let at = 0;
    for (const id of chosen) {
      readAt(this.fd, offsets[id]!, lengths[id]!, hot.subarray(at));
      // A text in memory is marked by a negative offset: -(its place in `hot` + 1).
      offsets[id] = -(at + 1);
      at += lengths[id]!;
    }
    releaseMemory(this.pending, this.offsets, this.lengths, this.hashes, this.slots);
    return new TextTable(this.fd, offsets, lengths, this.flushed, hot);
  }

  /** The ids of the texts `columns` use more than once, the most used first. */
  private mostUsed(columns: readonly Uint32Array[]): Uint32Array {
    const uses = new Uint32Array(this.count);
    for (const column of columns) for (const id of column) uses[id]!++;
    uses[0] = 0;
    let repeated = 0;
    for (const count of uses) if (count > 1) repeated++;
    const ids = new Uint32Array(repeated);
    for (let id = 0, at = 0; id < uses.length; id++) if (uses[id]! > 1) ids[at++] = id;
    return ids.sort((a, b) => uses[b]! - uses[a]! || a - b);
  }

  /** Frees the file of a build that will not finish (a damaged guide). */
  discard(): void {
    closeSync(this.fd);
  }

  /** Twice the slots, every text placed again by its hash. */
  private rehash(): void {
    const size = this.slots.length * 2;
    releaseMemory(this.slots);
    this.slots = new Uint32Array(size);
    const mask = this.slots.length - 1;
    for (let id = 1; id < this.count; id++) {
      let slot = this.hashes[id]! & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = id;
    }
  }

  private flush(): void {
    writeAt(this.fd, this.pending, this.used, this.flushed);
    this.flushed += this.used;
    this.used = 0;
  }

  /** Whether text `id` is the bytes [start, end) of the pending buffer. */
  private holds(id: number, start: number, end: number): boolean {
    const length = this.lengths[id]!;
    if (length !== end - start) return false;
    const offset = this.offsets[id]!;
    const inPending = offset - this.flushed;
    if (inPending >= 0) return this.pending.compare(this.pending, start, end, inPending, inPending + length) === 0;
    return readAt(this.fd, offset, length).compare(this.pending, start, end, 0, length) === 0;
  }
}

function grown<T extends Float64Array | Uint32Array>(values: T): T {
  const bigger = new (values.constructor as new (size: number) => T)(values.length * 2);
  bigger.set(values);
  releaseMemory(values);
  return bigger;
}

/** FNV-1a over bytes; collisions are resolved by comparing the bytes. */
function hashOf(bytes: Buffer, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash >>> 0;
}
