import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFrom, startTestLineup, TEST_KEY, type TestLineup } from '../helpers/lineup.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';
import { addSubscriber, applySql, parsePlaylist } from './support.js';

// char(13) is CR and char(10) LF: each value also carries a whole smuggled entry.
const SMUGGLED = `'x", y' || char(13) || char(10) || '#EXTINF:-1,Evil' || char(10) || 'http://evil.example/steal' || char(13) || char(10) || 'end'`;

const HOSTILE_SQL = `
INSERT INTO channels (stream, name, number, group_title, logo, tvg_id) VALUES
  ('plain', 'Plain', 1, 'G', '', ''),
  ('hostile', 'Bad "name", here' || char(10) || '#EXTINF:-1,Fake' || char(10) || 'http://evil.example/a', 2, ${SMUGGLED}, ${SMUGGLED}, ${SMUGGLED}),
  ('live/odd name,with comma', 'Odd, stream', 3, 'G', 'http://logo.test/a,b "c".png', ''),
  ('crlf', 'Only' || char(13) || char(10) || 'http://evil.example/b', 4, '', '', '');
`;

let lineup: TestLineup;
let body: string;

beforeAll(async () => {
  lineup = await startTestLineup();
  await applySql(lineup, HOSTILE_SQL);
  const url = await addSubscriber(lineup, 'victim');
  const response = await fetchFrom(url);
  expect(response.status).toBe(200);
  body = response.body;
});
afterAll(() => lineup.close());

describe('hostile column values', () => {
  it('when names, groups and logos carry quotes, commas, CR, LF and a fake #EXTINF line, then each channel is exactly one entry', () => {
    const lines = body.split('\n').filter(Boolean);
    const extinf = lines.filter((line) => line.startsWith('#EXTINF'));
    const urls = lines.filter((line) => !line.startsWith('#'));
    expect(extinf.length).toBe(4);
    expect(urls.length).toBe(4);
    expect(lines.length).toBe(1 + 4 + 4);
    // strict alternation: header, then EXTINF/URL pairs
    lines.slice(1).forEach((line, index) => {
      expect(line.startsWith('#EXTINF:-1')).toBe(index % 2 === 0);
    });
    const entries = parsePlaylist(body);
    expect(entries.map((entry) => entry.name)).toEqual([
      'Plain',
      "Bad 'name', here #EXTINF:-1,Fake http://evil.example/a",
      'Odd, stream',
      'Only http://evil.example/b',
    ]);
    expect(body).not.toContain('\r');
    for (const url of urls) expect(new URL(url).origin).toBe('http://origin.test');
  });

  it('when an attribute value held a double quote, then no attribute is broken open', () => {
    for (const line of body.split('\n').filter((l) => l.startsWith('#EXTINF'))) {
      const attributes = line.slice(0, line.lastIndexOf('",') + 1);
      // every attribute is key="value" with no stray quote inside the value
      expect(attributes.replace(/ [a-z-]+="[^"]*"/g, '')).toBe('#EXTINF:-1');
    }
  });

  it('when a stream name holds a comma, then no URL line contains a comma or a space', () => {
    for (const entry of parsePlaylist(body)) {
      expect(entry.url).not.toContain(',');
      expect(entry.url).not.toContain(' ');
      expect(entry.url).not.toContain('"');
    }
  });

  it('when a stream name has a comma and a space, then it is percent-encoded and the token verifies against the raw name', () => {
    const entry = parsePlaylist(body).find((e) => e.url.includes('odd'))!;
    expect(new URL(entry.url).pathname).toBe('/live/odd%20name%2Cwith%20comma/index.m3u8');
    const check = verifySecuretokenUrl(entry.url, { key: TEST_KEY, ip: '127.0.0.1', stream: 'live/odd name,with comma' });
    expect(check.valid).toBe(true);
  });

  it('when every entry is checked, then all tokens verify for 127.0.0.1 against the raw stream names', () => {
    const raw = ['plain', 'hostile', 'live/odd name,with comma', 'crlf'];
    const entries = parsePlaylist(body);
    entries.forEach((entry, index) => {
      expect(verifySecuretokenUrl(entry.url, { key: TEST_KEY, ip: '127.0.0.1', stream: raw[index]! }).valid).toBe(true);
    });
  });
});
