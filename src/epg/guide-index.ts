import { releaseMemory } from './release-memory.js';
import { TextTable, TextTableBuilder } from './text-table.js';
import type { XmltvChannel, XmltvProgramme, XmltvSink } from './xmltv-parser.js';
import { parseXmltvTime } from './xmltv-time.js';

/** One programme, as the Xtream API's EPG actions and the XMLTV writer read it. */
export interface Programme {
  /** A number that names this programme of this channel at this start, the same after a reload. */
  id: number;
  /** The XMLTV channel id: a channel's tvg-id. */
  channelId: string;
  /** Unix seconds. */
  start: number;
  stop: number;
  title: string;
  /** `''` when the guide has none. */
  description: string;
  /** The title's `lang`, `''` when the guide gives none. */
  lang: string;
}

/** What the guide says about a channel in its `<channel>` element. */
export interface GuideChannel {
  id: string;
  names: readonly { text: string; lang: string }[];
  icon: string;
}

interface ChannelRange {
  /** Its `<channel>` element; undefined when the guide has programmes for the id but no element. */
  info: GuideChannel | undefined;
  /** Its programmes are [begin, end) of the index's arrays, sorted by start. */
  begin: number;
  end: number;
}

/**
 * A loaded guide: per channel id, its programmes sorted by start, packed in typed arrays with
 * their texts in one table (strings kept once, on disk). Immutable: a reload builds another and
 * swaps it in.
 */
export class GuideIndex {
  constructor(
    private readonly channels: ReadonlyMap<string, ChannelRange>,
    private readonly texts: TextTable,
    private readonly starts: Float64Array,
    private readonly stops: Float64Array,
    private readonly titles: Uint32Array,
    private readonly descriptions: Uint32Array,
    private readonly langs: Uint32Array,
  ) {}

  static readonly EMPTY = new GuideIndex(
    new Map(),
    TextTable.EMPTY,
    new Float64Array(),
    new Float64Array(),
    new Uint32Array(),
    new Uint32Array(),
    new Uint32Array(),
  );

  get channelCount(): number {
    return this.channels.size;
  }

  get programmeCount(): number {
    return this.starts.length;
  }

  /** Bytes of text kept, for the load's log line. */
  get textBytes(): number {
    return this.texts.byteLength;
  }

  /** The guide's `<channel>` element for an id, if it has one. */
  channel(channelId: string): GuideChannel | undefined {
    return this.channels.get(channelId)?.info;
  }

  /**
   * The programmes of a channel that have not ended at `from` (unix seconds): the one on air, then
   * those after it, at most `limit`. Empty for an id the guide does not know.
   */
  programmesFrom(channelId: string, from: number, limit: number): Programme[] {
    const range = this.channels.get(channelId);
    if (!range || limit <= 0) return [];
    // The first programme that starts after `from`, then back over any still on air.
    let low = range.begin;
    let high = range.end;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.starts[middle]! > from) high = middle;
      else low = middle + 1;
    }
    while (low > range.begin && this.stops[low - 1]! > from) low--;
    const found: Programme[] = [];
    for (let i = low; i < range.end && found.length < limit; i++) if (this.stops[i]! > from) found.push(this.programmeAt(channelId, i));
    return found;
  }

  /** Every programme of a channel, past ones included, sorted by start. */
  programmes(channelId: string): Programme[] {
    const range = this.channels.get(channelId);
    if (!range) return [];
    const found: Programme[] = [];
    // A channel repeats its titles (a series) and languages: each text is read from the file once.
    const read = new Map<number, string>();
    for (let i = range.begin; i < range.end; i++) found.push(this.programmeAt(channelId, i, read));
    return found;
  }

  private programmeAt(channelId: string, i: number, read?: Map<number, string>): Programme {
    const start = this.starts[i]!;
    return {
      id: programmeId(channelId, start),
      channelId,
      start,
      stop: this.stops[i]!,
      title: this.text(this.titles[i]!, read),
      description: this.text(this.descriptions[i]!, read),
      lang: this.text(this.langs[i]!, read),
    };
  }

  private text(id: number, read: Map<number, string> | undefined): string {
    if (!read) return this.texts.text(id);
    let text = read.get(id);
    if (text === undefined) {
      text = this.texts.text(id);
      read.set(id, text);
    }
    return text;
  }
}

/** A positive 31-bit number from the channel id and the start: the same programme has the same id after a reload. */
function programmeId(channelId: string, start: number): number {
  let hash = 0x811c9dc5;
  const key = `${channelId}\n${start}`;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return hash >>> 1 || 1;
}

/** A copy that owns its characters: the parser's strings may be slices that keep a whole chunk alive. */
const detached = (text: string) => (text.length < 13 ? text : Buffer.from(text, 'utf8').toString('utf8'));

/** Rows per chunk of a column: 128 kB of Float64. */
const CHUNK_SHIFT = 14;
const CHUNK_ROWS = 1 << CHUNK_SHIFT;

/**
 * A column that grows by whole chunks, never by copying: each copy a doubling array made was
 * garbage the size of the column, freed only by the next full collection, and in a large server
 * that garbage was as large as the index itself.
 */
class Column<T extends Float64Array | Uint32Array> {
  private readonly chunks: T[] = [];
  private length = 0;
  constructor(private readonly make: new (size: number) => T) {}

  push(value: number): void {
    if ((this.length & (CHUNK_ROWS - 1)) === 0) this.chunks.push(new this.make(CHUNK_ROWS));
    this.chunks[this.chunks.length - 1]![this.length++ & (CHUNK_ROWS - 1)] = value;
  }

  at(i: number): number {
    return this.chunks[i >>> CHUNK_SHIFT]![i & (CHUNK_ROWS - 1)]!;
  }

  get size(): number {
    return this.length;
  }

  /** The values in `order`, in an array of exactly that length; the column is empty afterwards. */
  ordered(order: Uint32Array): T {
    const result = new this.make(order.length);
    for (let i = 0; i < order.length; i++) result[i] = this.at(order[i]!);
    releaseMemory(...this.chunks);
    this.chunks.length = 0;
    this.length = 0;
    return result;
  }
}

/**
 * Collects what the parser reads into a GuideIndex. Programmes whose channel, start or stop do
 * not parse are skipped and counted; a missing stop is the next programme's start.
 */
export class GuideBuilder implements XmltvSink {
  private readonly channelIds = new Map<string, number>();
  private readonly channelKeys: string[] = [];
  private readonly channelInfo: (GuideChannel | undefined)[] = [];
  private readonly texts = new TextTableBuilder();
  private readonly channelOf = new Column(Uint32Array);
  private readonly starts = new Column(Float64Array);
  private readonly stops = new Column(Float64Array);
  private readonly titles = new Column(Uint32Array);
  private readonly descriptions = new Column(Uint32Array);
  private readonly langs = new Column(Uint32Array);
  /** Programmes left out: a start or stop that is not an XMLTV time. */
  skipped = 0;

  channel(channel: XmltvChannel): void {
    const index = this.channelIndex(channel.id);
    // The first `<channel>` of an id wins, as the first `<title>` does.
    this.channelInfo[index] ??= {
      id: this.channelKeys[index]!,
      names: channel.names.map(({ text, lang }) => ({ text: detached(text), lang: detached(lang) })),
      icon: detached(channel.icon),
    };
  }

  programme(programme: XmltvProgramme): void {
    const start = parseXmltvTime(programme.start);
    const stop = programme.stop === '' ? Number.NaN : parseXmltvTime(programme.stop);
    if (start === undefined || stop === undefined || stop < start) {
      this.skipped++;
      return;
    }
    this.channelOf.push(this.channelIndex(programme.channel));
    this.starts.push(start);
    this.stops.push(stop);
    this.titles.push(this.texts.add(programme.title));
    this.descriptions.push(this.texts.add(programme.description));
    this.langs.push(this.texts.add(programme.lang));
  }

  /** Frees what a build that will not finish holds (the text file). */
  discard(): void {
    this.texts.discard();
  }

  async build(): Promise<GuideIndex> {
    const count = this.starts.size;
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    order.sort((a, b) => this.channelOf.at(a) - this.channelOf.at(b) || this.starts.at(a) - this.starts.at(b));
    const starts = this.starts.ordered(order);
    const stops = this.stops.ordered(order);
    const channelOf = this.channelOf.ordered(order);
    const ranges = new Map<string, ChannelRange>();
    const keys = this.channelKeys;
    for (let index = 0; index < keys.length; index++) ranges.set(keys[index]!, { info: this.channelInfo[index], begin: 0, end: 0 });
    for (let i = 0; i < count; ) {
      const range = ranges.get(keys[channelOf[i]!]!)!;
      range.begin = i;
      while (i < count && channelOf[i] === channelOf[range.begin]) {
        // No stop: until the next programme of the channel starts (or a zero-length last one).
        if (Number.isNaN(stops[i]!)) stops[i] = i + 1 < count && channelOf[i + 1] === channelOf[i] ? starts[i + 1]! : starts[i]!;
        i++;
      }
      range.end = i;
    }
    const titles = this.titles.ordered(order);
    const descriptions = this.descriptions.ordered(order);
    const langs = this.langs.ordered(order);
    // Requests get a turn between the sort and the texts, each tens of milliseconds for a large guide.
    await new Promise(setImmediate);
    releaseMemory(order, channelOf);
    return new GuideIndex(ranges, this.texts.build([titles, descriptions, langs]), starts, stops, titles, descriptions, langs);
  }

  private channelIndex(id: string): number {
    let index = this.channelIds.get(id);
    if (index === undefined) {
      index = this.channelKeys.length;
      const key = detached(id);
      this.channelIds.set(key, index);
      this.channelKeys.push(key);
    }
    return index;
  }
}
