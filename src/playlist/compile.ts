import { playArchiveUrl, playLiveUrl } from '../routes.js';
import { encodedStreamName, encodedStreamPath, type LinkMode, type Origin, type StreamFormat, streamPath } from '../signing/origin.js';
import { type SignableStream, signableStream } from '../signing/sign.js';
import { CATCHUP_FILE_TEMPLATE, catchupAttributes, signsCatchupTemplate } from './catchup.js';
import type { Channel } from './lineup.js';
import { lineText, urlLine } from './sanitize.js';

/**
 * One playlist entry with everything that does not depend on the viewer already written. The
 * viewer's part (the fill) is the signed query, or in redirect mode the subscriber's playlist key.
 */
interface CompiledEntry {
  /**
   * The entry's fixed text as UTF-8, cut where the fill goes: `#EXTINF…,Name\n` and the URL up to
   * and including `?` (or up to the key), then `\n`. A catch-up source carries the same fill again,
   * so there may be more pieces; the fill goes between each two.
   */
  pieces: readonly Buffer[];
  /** The pieces' total length. */
  fixedBytes: number;
  /** Redirect mode: the fill is the playlist key, and nothing is signed. */
  redirect?: boolean;
  /** The stream as the origin's scheme signs it. */
  signable: SignableStream;
  origin: Origin;
}

export interface CompiledPlaylist {
  /** `#EXTM3U…\n` as UTF-8. */
  header: Buffer;
  entries: CompiledEntry[];
}

export interface HeaderOptions {
  /** XMLTV guide URL, announced as both `url-tvg` and `x-tvg-url`. */
  epgUrl?: string | undefined;
}

function attribute(name: string, value: string | number | null): string {
  if (value === null) return '';
  const text = lineText(String(value));
  return text === '' ? '' : ` ${name}="${text}"`;
}

/**
 * `extra` is more attributes, already safe for the line (the catch-up ones).
 * @internal Exported for the test that renders a reference playlist line by line.
 */
export function extinfLine(channel: Channel, extra = ''): string {
  const name = lineText(channel.name) || lineText(channel.stream);
  return (
    '#EXTINF:-1' +
    attribute('tvg-id', channel.tvgId) +
    attribute('tvg-name', name) +
    attribute('tvg-logo', channel.logo) +
    attribute('tvg-chno', channel.number) +
    attribute('group-title', channel.groupTitle) +
    (channel.radio ? ' radio="true"' : '') +
    extra +
    `,${name}\n`
  );
}

/** How entries link to streams: straight to the origin, or through Lineup's `/play`. */
export interface LinkOptions {
  /** PUBLIC_URL, the base of redirect-mode links. */
  publicUrl: string;
  linkModeOf(channel: Channel): LinkMode;
}

const DIRECT_LINKS: LinkOptions = { publicUrl: '', linkModeOf: () => 'direct' };

/**
 * Marks where the viewer's part goes while an entry is written. Sanitising removes every control
 * character from operators' text, so this one cannot come from a column.
 */
const FILL = '\u0000';

/** The entry's text with FILL where the viewer's part goes. */
function entryTemplate(channel: Channel, origin: Origin, format: StreamFormat, links: LinkOptions): string {
  const catchup = channel.catchupDays > 0;
  if (links.linkModeOf(channel) === 'redirect') {
    const publicUrl = urlLine(links.publicUrl);
    const source = playArchiveUrl(publicUrl, FILL, channel.id, CATCHUP_FILE_TEMPLATE[format]);
    const extra = catchup ? catchupAttributes(channel.catchupDays, format, source) : '';
    return `${extinfLine(channel, extra)}${playLiveUrl(publicUrl, FILL, channel.id, format)}\n`;
  }
  const url = urlLine(origin.baseUrl + encodedStreamPath(channel.stream, format));
  if (!catchup || !signsCatchupTemplate(origin)) return `${extinfLine(channel)}${url}?${FILL}\n`;
  const streamBase = urlLine(`${origin.baseUrl}/${encodedStreamName(channel.stream)}`);
  const source = `${streamBase}/${CATCHUP_FILE_TEMPLATE[format]}?${FILL}`;
  return `${extinfLine(channel, catchupAttributes(channel.catchupDays, format, source))}${url}?${FILL}\n`;
}

function compileEntry(channel: Channel, origin: Origin, format: StreamFormat, links: LinkOptions): CompiledEntry {
  const pieces = entryTemplate(channel, origin, format, links)
    .split(FILL)
    .map((piece) => Buffer.from(piece, 'utf8'));
  return {
    pieces,
    fixedBytes: pieces.reduce((total, piece) => total + piece.length, 0),
    ...(links.linkModeOf(channel) === 'redirect' ? { redirect: true } : {}),
    signable: signableStream(channel.stream, streamPath(channel.stream, format), origin),
    origin,
  };
}

function headerLine({ epgUrl }: HeaderOptions): string {
  if (!epgUrl) return '#EXTM3U\n';
  const url = lineText(epgUrl);
  return `#EXTM3U url-tvg="${url}" x-tvg-url="${url}"\n`;
}

/**
 * Does, once per lineup change, all the work that is the same for every viewer: attribute
 * sanitising, the EXTINF lines and the URL up to its query.
 */
export function compilePlaylist(
  channels: readonly Channel[],
  originOf: (channel: Channel) => Origin,
  format: StreamFormat,
  header: HeaderOptions,
  links: LinkOptions = DIRECT_LINKS,
): CompiledPlaylist {
  return {
    header: Buffer.from(headerLine(header), 'utf8'),
    entries: channels.map((channel) => compileEntry(channel, originOf(channel), format, links)),
  };
}
