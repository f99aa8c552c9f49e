// iptv-playlist-parser patches String.prototype when loaded, so this module is only ever loaded
// lazily by `lineup import` (and tests), never by the server.
import parser from 'iptv-playlist-parser';
import type { ChannelValues } from '../channels/channel-fields.js';
import { BadInputError } from '../errors.js';
import { streamFromUrl, streamNameProblem } from './stream-name.js';

/** One channel of an upstream M3U, as Lineup would store it, and the line it came from. */
export type ImportEntry = ChannelValues & {
  stream: string;
  /** 1-based line of the entry's `#EXTINF` in the file. */
  line: number;
};

/** An entry left out, and why; or a value that was ignored in an entry that was kept. */
interface ImportNote {
  line: number;
  reason: string;
}

export interface UpstreamPlaylist {
  entries: ImportEntry[];
  skipped: ImportNote[];
  warnings: ImportNote[];
}

/** Where the stream name comes from: the URL's path (Flussonic style), or the `tvg-id` attribute. */
export type StreamSource = 'url' | 'tvg-id';

const MAX_CATCHUP_DAYS = 365;

/** An attribute of the `#EXTINF` line that the parser does not expose (`tvg-chno`, `radio`, …). */
function extinfAttribute(raw: string, name: string): string | undefined {
  const extinf = raw.split(/\r?\n/, 1)[0] ?? '';
  const match = new RegExp(`(?:^|\\s)${name}="([^"]*)"`, 'i').exec(extinf);
  return match?.[1]?.trim();
}

/**
 * The parser wants `#EXTM3U` on the very first line: a UTF-8 BOM or leading blank lines make it
 * refuse the file. Returns the cleaned text and how many lines were dropped from its top, so that
 * line numbers can still name lines of the original file.
 */
function cleanForParser(text: string): { text: string; droppedLines: number } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  let droppedLines = 0;
  while (droppedLines < lines.length && lines[droppedLines]!.trim() === '') droppedLines++;
  return { text: lines.slice(droppedLines).join('\n'), droppedLines };
}

/**
 * The `#EXTGRP:` lines of the cleaned text: their 1-based line and group. An `#EXTGRP` begins a
 * named group that holds for the entries after it, up to the next one (as VLC reads it), whether
 * it stands between an `#EXTINF` and its URL or before the `#EXTINF`.
 */
function groupLines(cleaned: string): Array<{ line: number; group: string }> {
  return cleaned.split('\n').flatMap((content, index) => {
    const match = /^\s*#EXTGRP:(.*)$/i.exec(content);
    const group = match?.[1]?.trim() ?? '';
    return group === '' ? [] : [{ line: index + 1, group }];
  });
}

/**
 * Reads an upstream M3U into the channels to import. Entries without a URL, or whose stream name
 * cannot be derived, are skipped with their line; so is a second entry for a stream already seen.
 * Throws BadInputError when the text is not an M3U playlist at all.
 */
export function parseUpstreamM3u(text: string, streamSource: StreamSource = 'url'): UpstreamPlaylist {
  const { text: cleaned, droppedLines } = cleanForParser(text);
  if (!/^#EXTM3U/.test(cleaned)) throw new BadInputError('not an M3U playlist (the file must start with #EXTM3U)');
  const playlist = parser.parse(cleaned);
  const entries: ImportEntry[] = [];
  const skipped: ImportNote[] = [];
  const warnings: ImportNote[] = [];
  const lineOfStream = new Map<string, number>();

  // An #EXTINF followed by another #EXTINF is overwritten by the parser, so find those here.
  const parsedLines = new Set(playlist.items.map((item) => item.line));
  cleaned.split('\n').forEach((content, index) => {
    if (content.trim().startsWith('#EXTINF:') && !parsedLines.has(index + 1)) {
      skipped.push({ line: index + 1 + droppedLines, reason: 'no URL after this #EXTINF' });
    }
  });

  const groups = groupLines(cleaned);
  let groupAt = -1;
  for (const item of playlist.items) {
    const line = item.line + droppedLines;
    // The group in effect at the entry's URL, the last line of the entry.
    const lastLine = item.line + item.raw.split('\n').length - 1;
    while (groupAt + 1 < groups.length && groups[groupAt + 1]!.line <= lastLine) groupAt++;
    const extgrp = groupAt >= 0 ? groups[groupAt]!.group : '';
    const url = item.url?.trim() ?? '';
    if (url === '') {
      skipped.push({ line, reason: 'no URL after this #EXTINF' });
      continue;
    }
    const tvgId = item.tvg.id.trim();
    const stream = streamSource === 'tvg-id' ? tvgId : streamFromUrl(url);
    if (stream === undefined || stream === '') {
      skipped.push({
        line,
        reason:
          streamSource === 'tvg-id'
            ? 'no tvg-id to take the stream name from'
            : `cannot derive a stream name from URL ${JSON.stringify(url.replace(/\?.*$/, ''))} (expected …/NAME/index.m3u8, …/NAME/video.m3u8 or …/NAME/mpegts)`,
      });
      continue;
    }
    const problem = streamNameProblem(stream);
    if (problem) {
      skipped.push({ line, reason: problem });
      continue;
    }
    const firstLine = lineOfStream.get(stream);
    if (firstLine !== undefined) {
      skipped.push({ line, reason: `stream "${stream}" already imported from line ${firstLine}` });
      continue;
    }
    lineOfStream.set(stream, line);

    const chno = extinfAttribute(item.raw, 'tvg-chno');
    let number: number | null = null;
    if (chno) {
      if (/^\d{1,9}$/.test(chno)) number = Number(chno);
      else warnings.push({ line, reason: `tvg-chno "${chno}" is not a whole number; imported without a number` });
    }
    const catchup = extinfAttribute(item.raw, 'catchup-days');
    let catchupDays = 0;
    if (catchup) {
      if (/^\d{1,3}$/.test(catchup) && Number(catchup) <= MAX_CATCHUP_DAYS) catchupDays = Number(catchup);
      else warnings.push({ line, reason: `catchup-days "${catchup}" is not 0–${MAX_CATCHUP_DAYS}; imported as 0` });
    }
    const radio = /^(true|1|yes)$/i.test(extinfAttribute(item.raw, 'radio') ?? '');

    entries.push({
      line,
      stream,
      name: item.name.trim() || item.tvg.name.trim(),
      number,
      // The parser lets an #EXTGRP override group-title; the entry's own attribute should win.
      groupTitle: extinfAttribute(item.raw, 'group-title') || extgrp,
      logo: item.tvg.logo.trim(),
      tvgId,
      catchupDays,
      radio,
    });
  }
  skipped.sort((a, b) => a.line - b.line);
  return { entries, skipped, warnings };
}
