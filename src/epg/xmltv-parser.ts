import { SaxesParser, type SaxesTagPlain } from 'saxes';

/** A `<channel>` of the guide, as far as Lineup keeps it. */
export interface XmltvChannel {
  id: string;
  /** Its `<display-name>`s, in the guide's order. */
  names: { text: string; lang: string }[];
  /** The first `<icon src>`. */
  icon: string;
}

/** A `<programme>`, its times still as the guide wrote them. */
export interface XmltvProgramme {
  channel: string;
  start: string;
  stop: string;
  /** The first `<title>`, and its `lang`. */
  title: string;
  lang: string;
  /** The first `<desc>`. */
  description: string;
}

export interface XmltvSink {
  channel(channel: XmltvChannel): void;
  programme(programme: XmltvProgramme): void;
}

/** Text Lineup keeps of one element at most: a title or description longer than this is cut, so that one hostile node cannot hold the heap. */
const MAX_TEXT = 16_384;

/** Parsing time after which requests get a turn. */
const YIELD_AFTER_MS = 5;

/**
 * Streams an XMLTV document through saxes (a conforming, non-validating parser) and hands each
 * channel and programme to `sink` as soon as its end tag is read. Throws on anything that is not
 * well-formed XML whose root is `<tv>`, including a document that stops early (a cut download):
 * a guide is taken whole or not at all. Each chunk is parsed synchronously, and the event loop
 * gets a turn every few milliseconds, so a large guide shares it with requests instead of holding it.
 * `signal` stops a parse that is no longer wanted (the server is stopping).
 */
export async function parseXmltv(chunks: AsyncIterable<string>, sink: XmltvSink, signal?: AbortSignal): Promise<void> {
  const parser = new SaxesParser({ xmlns: false });
  let depth = 0;
  let channel: XmltvChannel | undefined;
  let programme: XmltvProgramme | undefined;
  /** The element whose text is being gathered, at depth 2, and its `lang`. */
  let field: { name: string; lang: string } | undefined;
  let text = '';

  parser.on('opentag', (tag: SaxesTagPlain) => {
    depth++;
    const attribute = (name: string) => tag.attributes[name] ?? '';
    if (depth === 1) {
      if (tag.name !== 'tv') throw new Error(`the root element is <${tag.name}>, not <tv>`);
    } else if (depth === 2) {
      if (tag.name === 'channel') channel = { id: attribute('id').trim(), names: [], icon: '' };
      else if (tag.name === 'programme') {
        programme = {
          channel: attribute('channel').trim(),
          start: attribute('start'),
          stop: attribute('stop'),
          title: '',
          lang: '',
          description: '',
        };
      }
    } else if (depth === 3) {
      if (channel && tag.name === 'icon' && channel.icon === '') channel.icon = attribute('src').trim();
      if ((channel && tag.name === 'display-name') || (programme && (tag.name === 'title' || tag.name === 'desc'))) {
        field = { name: tag.name, lang: attribute('lang').trim() };
        text = '';
      }
    }
  });
  const gather = (chunk: string) => {
    if (field && text.length < MAX_TEXT) text += chunk;
  };
  parser.on('text', gather);
  parser.on('cdata', gather);
  parser.on('closetag', () => {
    if (depth === 3 && field) {
      const value = text.slice(0, MAX_TEXT).trim();
      if (channel && field.name === 'display-name' && value !== '') channel.names.push({ text: value, lang: field.lang });
      if (programme && field.name === 'title' && programme.title === '') {
        programme.title = value;
        programme.lang = field.lang;
      }
      if (programme && field.name === 'desc' && programme.description === '') programme.description = value;
      field = undefined;
      text = '';
    } else if (depth === 2) {
      if (channel && channel.id !== '') sink.channel(channel);
      if (programme && programme.channel !== '') sink.programme(programme);
      channel = undefined;
      programme = undefined;
    }
    depth--;
  });

  let sawRoot = false;
  parser.on('opentagstart', () => {
    sawRoot = true;
  });
  let slice = performance.now();
  for await (const chunk of chunks) {
    signal?.throwIfAborted();
    parser.write(chunk);
    // Chunks a stream has already buffered come in microtasks, which let no request in; however a
    // source buffers (a file, gunzip, a test's array), after a few milliseconds the event loop gets a turn.
    if (performance.now() - slice > YIELD_AFTER_MS) {
      await new Promise(setImmediate);
      slice = performance.now();
    }
  }
  // Throws on an unclosed element: the document stopped before its end.
  parser.close();
  if (!sawRoot) throw new Error('the document is empty');
}
