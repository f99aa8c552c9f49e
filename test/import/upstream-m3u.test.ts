import { describe, expect, it } from 'vitest';
import { BadInputError } from '../../src/errors.js';
import { parseUpstreamM3u } from '../../src/import/upstream-m3u.js';

const entry = (attrs: string, name: string, url: string) => `#EXTINF:-1 ${attrs},${name}\n${url}\n`;
const two = `#EXTM3U\n${entry('tvg-id="a.uk" tvg-chno="1"', 'Alpha', 'http://fl/alpha/index.m3u8')}${entry('tvg-chno="2"', 'Beta', 'http://fl/live/beta/mpegts')}`;

describe('parseUpstreamM3u', () => {
  it('when the file is plain, then every entry is read with its line', () => {
    const { entries, skipped } = parseUpstreamM3u(two);
    expect(skipped).toEqual([]);
    expect(entries.map((e) => [e.line, e.stream, e.name, e.number])).toEqual([
      [2, 'alpha', 'Alpha', 1],
      [4, 'live/beta', 'Beta', 2],
    ]);
  });

  it('when the file has a BOM, CRLF line ends and leading blank lines, then it reads the same, with file line numbers', () => {
    const messy = `\uFEFF\r\n\r\n  \r\n${two.replace(/\n/g, '\r\n')}`;
    const { entries, skipped } = parseUpstreamM3u(messy);
    expect(skipped).toEqual([]);
    expect(entries.map((e) => [e.line, e.stream, e.name])).toEqual([
      [5, 'alpha', 'Alpha'],
      [7, 'live/beta', 'Beta'],
    ]);
    expect(entries.every((e) => !/\r/.test(e.name + e.stream))).toBe(true);
  });

  it('when attributes the parser ignores are present, then tvg-chno, radio and catchup-days come from the raw line', () => {
    const text = `#EXTM3U\n${entry('tvg-id="r4.uk" tvg-name="R4" tvg-logo="https://l/r4.png" tvg-chno="702" group-title="Radio" radio="true" catchup-days="7"', 'BBC Radio 4', 'http://fl/radio/r4/index.m3u8')}`;
    expect(parseUpstreamM3u(text).entries[0]).toEqual({
      line: 2,
      stream: 'radio/r4',
      name: 'BBC Radio 4',
      number: 702,
      groupTitle: 'Radio',
      logo: 'https://l/r4.png',
      tvgId: 'r4.uk',
      catchupDays: 7,
      radio: true,
    });
  });

  it('when entries are malformed, then they are skipped with their line and a reason, and the rest is read', () => {
    const text = [
      '#EXTM3U', //                                            1
      '#EXTINF:-1 tvg-chno="1",No URL, followed by another', // 2
      '#EXTINF:-1 tvg-chno="2",Good', //                        3
      'http://fl/good/index.m3u8', //                           4
      '#EXTINF:-1 tvg-chno="3",Not Flussonic', //               5
      'http://cdn.example/stream.ts', //                        6
      '#EXTINF:-1 tvg-chno="4",Same stream again', //           7
      'http://other/good/mpegts', //                            8
      '#EXTINF:-1 tvg-chno="5",Last, no URL', //                9
      '',
    ].join('\n');
    const { entries, skipped } = parseUpstreamM3u(text);
    expect(entries.map((e) => e.stream)).toEqual(['good']);
    expect(skipped.map((s) => s.line)).toEqual([2, 5, 7, 9]);
    expect(skipped[0]!.reason).toMatch(/no URL/);
    expect(skipped[1]!.reason).toMatch(/cannot derive a stream name/);
    expect(skipped[2]!.reason).toMatch(/already imported from line 3/);
    expect(skipped[3]!.reason).toMatch(/no URL/);
  });

  it("when groups are given by #EXTGRP, then each holds for the entries after it, and an entry's group-title wins", () => {
    const text = [
      '#EXTM3U',
      '#EXTGRP:News',
      '#EXTINF:-1,One',
      'http://fl/one/index.m3u8',
      '#EXTINF:-1,Two',
      'http://fl/two/index.m3u8',
      '#EXTINF:-1 group-title="Own",Three',
      'http://fl/three/index.m3u8',
      '#EXTINF:-1,Four',
      '#EXTGRP:Sport',
      'http://fl/four/index.m3u8',
      '#EXTINF:-1,Five',
      'http://fl/five/index.m3u8',
      '',
    ].join('\n');
    expect(parseUpstreamM3u(text).entries.map((e) => [e.stream, e.groupTitle])).toEqual([
      ['one', 'News'],
      ['two', 'News'],
      ['three', 'Own'],
      ['four', 'Sport'],
      ['five', 'Sport'],
    ]);
  });

  it('when there is neither group-title nor #EXTGRP, then the group is empty', () => {
    expect(parseUpstreamM3u(two).entries.map((e) => e.groupTitle)).toEqual(['', '']);
  });

  it('when the old URL carries a token, then the reason for a skip does not repeat it', () => {
    const text = `#EXTM3U\n${entry('', 'X', 'http://cdn/x.ts?token=secret-token-value')}`;
    expect(parseUpstreamM3u(text).skipped[0]!.reason).not.toContain('secret-token-value');
  });

  it('when a number or catchup-days is not usable, then the entry is kept without it and a warning names the line', () => {
    const text = `#EXTM3U\n${entry('tvg-chno="12a" catchup-days="999"', 'Odd', 'http://fl/odd/index.m3u8')}`;
    const { entries, warnings } = parseUpstreamM3u(text);
    expect(entries[0]).toMatchObject({ number: null, catchupDays: 0 });
    expect(warnings.map((w) => w.line)).toEqual([2, 2]);
  });

  it('when --stream-from tvg-id, then the stream is the tvg-id and entries without one are skipped', () => {
    const text = `#EXTM3U\n${entry('tvg-id="ch.one"', 'One', 'http://cdn/whatever.ts')}${entry('', 'None', 'http://cdn/other.ts')}`;
    const { entries, skipped } = parseUpstreamM3u(text, 'tvg-id');
    expect(entries.map((e) => e.stream)).toEqual(['ch.one']);
    expect(skipped).toEqual([{ line: 4, reason: 'no tvg-id to take the stream name from' }]);
  });

  it('when the text is not an M3U, then it is refused as bad input', () => {
    expect(() => parseUpstreamM3u('hello\n')).toThrow(BadInputError);
    expect(() => parseUpstreamM3u('')).toThrow(BadInputError);
  });
});
