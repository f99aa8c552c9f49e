import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { addSubscriber, applySql, expectAllTokensValid, parsePlaylist, streamOf } from './support.js';

const LINEUP_SQL = `
-- numbers deliberately out of insert order, with a tie broken by name
INSERT INTO channels (stream, name, number, group_title, logo, tvg_id) VALUES
  ('live/zulu',   'Zulu',   20, 'News',  'http://logos.test/z.png', 'zulu.tv'),
  ('alpha',       'Alpha',  10, 'Gen',   '', ''),
  ('live/bravo',  'Bravo',  20, 'News',  '', ''),
  ('nonumber',    'Aaa No Number', NULL, '', '', ''),
  ('off',         'Disabled', 1, '', '', '');
UPDATE channels SET enabled = 0 WHERE stream = 'off';

INSERT INTO packages (name) VALUES ('premium'), ('kids');
INSERT INTO channels (stream, name, number) VALUES ('prem/movies', 'Premium Movies', 30), ('kids/toons', 'Toons', 40);
INSERT INTO package_channels (package_id, channel_id)
  SELECT p.id, c.id FROM packages p JOIN channels c
  ON (p.name = 'premium' AND c.stream = 'prem/movies') OR (p.name = 'kids' AND c.stream = 'kids/toons');
`;

let lineup: TestLineup;
let aliceUrl: string;
let bobUrl: string;

beforeAll(async () => {
  lineup = await startTestLineup();
  await applySql(lineup, LINEUP_SQL);
  aliceUrl = await addSubscriber(lineup, 'alice', '--days', '30');
  bobUrl = await addSubscriber(lineup, 'bob', '--days', '30', '--package', 'premium');
});
afterAll(() => lineup.close());

const streams = (body: string) => parsePlaylist(body).map((entry) => streamOf(entry.url));

describe('GET /playlist/KEY.m3u', () => {
  it('when alice fetches from 127.0.0.1, then every token verifies for 127.0.0.1 by recomputing the sha1', async () => {
    const response = await fetchFrom(aliceUrl);
    expect(response.status).toBe(200);
    const entries = expectAllTokensValid(response.body, '127.0.0.1');
    expect(entries.length).toBe(4);
    for (const entry of entries) expect(new URL(entry.url).origin).toBe('http://origin.test');
  });

  it('when served, then the headers are audio/x-mpegurl UTF-8 and private, no-cache (revalidated, never stored by a shared cache)', async () => {
    const response = await fetchFrom(aliceUrl);
    expect(response.headers['content-type']).toBe('audio/x-mpegurl; charset=utf-8');
    expect(response.headers['cache-control']).toBe('private, no-cache');
    expect(response.headers.location).toBeUndefined();
  });

  it('when served, then the body starts with #EXTM3U, has LF line ends only, no BOM and no #EXTGRP', async () => {
    const { body } = await fetchFrom(aliceUrl);
    expect(body.split('\n')[0]).toBe('#EXTM3U');
    expect(body.charCodeAt(0)).not.toBe(0xfeff);
    expect(body).not.toContain('\r');
    expect(body).not.toContain('#EXTGRP');
    expect(body.endsWith('\n')).toBe(true);
  });

  it('when served, then channels are ordered by number then name, unnumbered last, disabled ones absent', async () => {
    const { body } = await fetchFrom(aliceUrl);
    expect(streams(body)).toEqual(['alpha', 'live/bravo', 'live/zulu', 'nonumber']);
    const zulu = parsePlaylist(body).find((entry) => entry.name === 'Zulu')!;
    expect(zulu).toMatchObject({ group: 'News', logo: 'http://logos.test/z.png', chno: '20' });
  });

  it('when HEAD is sent, then it answers 200 with the playlist headers and no body', async () => {
    const response = await fetchFrom(aliceUrl, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('audio/x-mpegurl; charset=utf-8');
    expect(response.body).toBe('');
  });

  it('when POST is sent, then it serves the same playlist with valid tokens', async () => {
    const response = await fetchFrom(aliceUrl, { method: 'POST' });
    expect(response.status).toBe(200);
    expect(expectAllTokensValid(response.body, '127.0.0.1').length).toBe(4);
  });

  it('when the URL ends in .m3u8, then the same playlist is served', async () => {
    const response = await fetchFrom(aliceUrl.replace(/\.m3u$/, '.m3u8'));
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('audio/x-mpegurl; charset=utf-8');
    expect(streams(response.body)).toEqual(streams((await fetchFrom(aliceUrl)).body));
  });

  it('when ?output=ts is given, then every URL is /NAME/mpegts and still verifies', async () => {
    const { body } = await fetchFrom(`${aliceUrl}?output=ts`);
    const entries = expectAllTokensValid(body, '127.0.0.1');
    for (const entry of entries) expect(new URL(entry.url).pathname).toMatch(/^\/[^?]+\/mpegts$/);
    const hls = parsePlaylist((await fetchFrom(aliceUrl)).body);
    for (const entry of hls) expect(new URL(entry.url).pathname).toMatch(/\/index\.m3u8$/);
  });

  it('when ?output is something else, then it answers 400 in plain text', async () => {
    const response = await fetchFrom(`${aliceUrl}?output=flv`);
    expect(response.status).toBe(400);
    expect(response.body).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('when fetched twice with TOKEN_BUCKET=0, then tokens are fresh (salts differ)', async () => {
    // The default TOKEN_BUCKET repeats a subscriber's tokens within a bucket (test/perf covers that).
    const unbucketed = await startTestLineup({ env: { TOKEN_BUCKET: '0' } });
    try {
      await applySql(unbucketed, LINEUP_SQL);
      const url = await addSubscriber(unbucketed, 'alice', '--days', '30');
      const first = parsePlaylist((await fetchFrom(url)).body)[0]!.url;
      const second = parsePlaylist((await fetchFrom(url)).body)[0]!.url;
      expect(first).not.toBe(second);
    } finally {
      await unbucketed.close();
    }
  });
});

describe('the package rule', () => {
  it('when a channel is in no package, then every subscriber sees it; in a package, only its subscribers', async () => {
    const alice = streams((await fetchFrom(aliceUrl)).body);
    const bob = streams((await fetchFrom(bobUrl)).body);
    expect(alice).not.toContain('prem/movies');
    expect(alice).not.toContain('kids/toons');
    expect(bob).toEqual(['alpha', 'live/bravo', 'live/zulu', 'prem/movies', 'nonumber']);
    expectAllTokensValid((await fetchFrom(bobUrl)).body, '127.0.0.1');
  });

  it('when a package is removed from a subscriber, then they lose its channels and gain nothing', async () => {
    const carolUrl = await addSubscriber(lineup, 'carol', '--package', 'premium', '--package', 'kids');
    const before = streams((await fetchFrom(carolUrl)).body);
    expect(before).toEqual(expect.arrayContaining(['prem/movies', 'kids/toons']));

    const db = new Database(lineup.dbPath);
    db.prepare(
      `DELETE FROM subscriber_packages WHERE subscriber_id = (SELECT id FROM subscribers WHERE username = 'carol')
         AND package_id = (SELECT id FROM packages WHERE name = 'premium')`,
    ).run();
    db.close();

    const after = streams((await fetchFrom(carolUrl)).body);
    expect(after).not.toContain('prem/movies');
    expect(after).toContain('kids/toons');
    expect(after.every((stream) => before.includes(stream))).toBe(true);
  });

  it('when an operator deletes a package that still holds channels, then it is refused and nobody gains them', async () => {
    const file = join(lineup.dir, 'drop-premium.sql');
    writeFileSync(file, "DELETE FROM packages WHERE name = 'premium';\n");
    const result = await lineup.cli(['sql', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('drop-premium.sql:1: FOREIGN KEY constraint failed');
    expect(streams((await fetchFrom(aliceUrl)).body)).not.toContain('prem/movies');
  });
});
