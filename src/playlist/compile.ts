import { encodedStreamPath, type Origin, type StreamFormat, streamPath } from '../signing/origin.js';
import type { Channel } from './lineup.js';
import { lineText, urlLine } from './sanitize.js';

/** One playlist entry with everything that does not depend on the viewer already written. */
export interface CompiledEntry {
  /** `#EXTINF…,Name\n` followed by the URL up to and including `?`. */
  head: string;
  stream: string;
  /** The unencoded request path that schemes hash (`/live/ch1/index.m3u8`). */
  path: string;
  origin: Origin;
}

export interface CompiledPlaylist {
  header: string;
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

export function extinfLine(channel: Channel): string {
  const name = lineText(channel.name) || lineText(channel.stream);
  return (
    '#EXTINF:-1' +
    attribute('tvg-id', channel.tvgId) +
    attribute('tvg-name', name) +
    attribute('tvg-logo', channel.logo) +
    attribute('tvg-chno', channel.number) +
    attribute('group-title', channel.groupTitle) +
    (channel.radio ? ' radio="true"' : '') +
    `,${name}\n`
  );
}

export function headerLine({ epgUrl }: HeaderOptions): string {
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
): CompiledPlaylist {
  return {
    header: headerLine(header),
    entries: channels.map((channel) => {
      const origin = originOf(channel);
      return {
        head: extinfLine(channel) + urlLine(origin.baseUrl + encodedStreamPath(channel.stream, format)) + '?',
        stream: channel.stream,
        path: streamPath(channel.stream, format),
        origin,
      };
    }),
  };
}
