import { Readable } from 'node:stream';
import type { GuideIndex } from './guide-index.js';
import { escapeXml } from './xml-text.js';
import { formatXmltvTime } from './xmltv-time.js';

/** A channel the viewer can see, as Lineup knows it: its tvg-id, and what to call it when the guide has no `<channel>` for it. */
export interface ViewerChannel {
  /** The XMLTV channel id (tvg-id). */
  id: string;
  name: string;
  /** Its logo URL, `''` for none. */
  logo: string;
}

/** Text gathered before it is handed on as one Buffer: large enough to be cheap per chunk, small enough to stream. */
const CHUNK_CHARS = 1 << 16;

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE tv SYSTEM "xmltv.dtd">\n<tv generator-info-name="Lineup">\n';
const TAIL = '</tv>\n';

const lang = (value: string) => (value === '' ? '' : ` lang="${escapeXml(value)}"`);

/**
 * An XMLTV document holding only `channels` (each id once, in the order given): a `<channel>` for
 * every one, with the guide's names and icon when it has them and Lineup's name and logo when it
 * does not, then each one's programmes. Every text and attribute is escaped; times are UTC.
 */
function* xmltvChunks(index: GuideIndex, channels: Iterable<ViewerChannel>): Generator<Buffer> {
  const unique = new Map<string, ViewerChannel>();
  for (const channel of channels) if (channel.id !== '' && !unique.has(channel.id)) unique.set(channel.id, channel);
  let text = HEAD;
  for (const channel of unique.values()) {
    const known = index.channel(channel.id);
    const names = known && known.names.length > 0 ? known.names : [{ text: channel.name, lang: '' }];
    const icon = known?.icon || channel.logo;
    text += `  <channel id="${escapeXml(channel.id)}">\n`;
    for (const name of names) text += `    <display-name${lang(name.lang)}>${escapeXml(name.text)}</display-name>\n`;
    if (icon !== '') text += `    <icon src="${escapeXml(icon)}"/>\n`;
    text += '  </channel>\n';
    if (text.length >= CHUNK_CHARS) {
      yield Buffer.from(text, 'utf8');
      text = '';
    }
  }
  for (const channel of unique.values()) {
    const id = escapeXml(channel.id);
    for (const programme of index.programmes(channel.id)) {
      text += `  <programme start="${formatXmltvTime(programme.start)}" stop="${formatXmltvTime(programme.stop)}" channel="${id}">\n`;
      text += `    <title${lang(programme.lang)}>${escapeXml(programme.title)}</title>\n`;
      if (programme.description !== '') text += `    <desc${lang(programme.lang)}>${escapeXml(programme.description)}</desc>\n`;
      text += '  </programme>\n';
      if (text.length >= CHUNK_CHARS) {
        yield Buffer.from(text, 'utf8');
        text = '';
      }
    }
  }
  yield Buffer.from(text + TAIL, 'utf8');
}

/** The same document as a stream, made as it is read. */
export function xmltvStream(index: GuideIndex, channels: Iterable<ViewerChannel>): Readable {
  return Readable.from(xmltvChunks(index, channels), { objectMode: false });
}

/**
 * The same document as one Buffer.
 * @internal Tests read the document whole.
 */
export function xmltvBuffer(index: GuideIndex, channels: Iterable<ViewerChannel>): Buffer {
  return Buffer.concat([...xmltvChunks(index, channels)]);
}
