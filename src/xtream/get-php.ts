import type { Channel } from '../playlist/lineup.js';
import { lineText, urlLine } from '../playlist/sanitize.js';
import { XC_XMLTV_PATH, xcLiveUrl } from '../routes.js';
import type { StreamFormat } from '../signing/origin.js';
import { displayName } from './catalog.js';

/** `type`: names only, or with the tvg attributes and group. */
export type GetPhpType = 'm3u' | 'm3u_plus';

/**
 * Mark where the line's credentials go: in a path (`USERNAME/PASSWORD`) or a query
 * (`username=…&password=…`). Sanitising removes every control character from operators' text.
 */
const PATH_FILL = '\u0000';
const QUERY_FILL = '\u0001';

/** A compiled get.php list: the text around each place the line's credentials go, and which kind each is. */
export interface CompiledGetPhp {
  pieces: readonly string[];
  /** `fills[i]` goes between `pieces[i]` and `pieces[i + 1]`. */
  fills: readonly ('path' | 'query')[];
}

function extinf(channel: Channel, type: GetPhpType, categoryName: string): string {
  const name = lineText(displayName(channel));
  if (type === 'm3u') return `#EXTINF:-1,${name}\n`;
  // Every attribute, even empty: the panels' own output, which parsers of it expect.
  return `#EXTINF:-1 tvg-id="${lineText(channel.tvgId)}" tvg-name="${name}" tvg-logo="${lineText(channel.logo)}" group-title="${lineText(categoryName)}",${name}\n`;
}

/**
 * Once per lineup change, package set, type and format: every entry a stable `/live/U/P/ID.ext`
 * link, which redirects on play, so that a list cached for days keeps working.
 */
export function compileGetPhp(
  channels: readonly Channel[],
  categoryNameOf: (channel: Channel) => string,
  publicUrl: string,
  type: GetPhpType,
  format: StreamFormat,
): CompiledGetPhp {
  const base = urlLine(publicUrl);
  // The guide that goes with the list, for the apps (XStreamity) that only derive URLs from get.php.
  const guide = `${base}${XC_XMLTV_PATH}?${QUERY_FILL}`;
  let text = type === 'm3u_plus' ? `#EXTM3U url-tvg="${guide}" x-tvg-url="${guide}"\n` : '#EXTM3U\n';
  for (const channel of channels) {
    const [before, after] = xcLiveUrl(base, PATH_FILL, PATH_FILL, channel.id, format).split(`${PATH_FILL}/${PATH_FILL}`);
    text += `${extinf(channel, type, categoryNameOf(channel))}${before}${PATH_FILL}${after}\n`;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the fills are control characters so that no column can hold one.
  const parts = text.split(/([\u0000\u0001])/);
  return {
    pieces: parts.filter((_, at) => at % 2 === 0),
    fills: parts.filter((_, at) => at % 2 === 1).map((fill) => (fill === PATH_FILL ? 'path' : 'query')),
  };
}

/** The list for one line, with the credentials as it sent them (a checked login). */
export function renderGetPhp({ pieces, fills }: CompiledGetPhp, username: string, password: string): string {
  // Encoded all the same: a name that predates the URL-safe rule must not break the list.
  const user = encodeURIComponent(username);
  const pass = encodeURIComponent(password);
  const path = `${user}/${pass}`;
  const query = `username=${user}&password=${pass}`;
  let text = pieces[0]!;
  for (let at = 0; at < fills.length; at++) text += (fills[at] === 'path' ? path : query) + pieces[at + 1]!;
  return text;
}
