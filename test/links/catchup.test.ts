import parser from 'iptv-playlist-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSubscriber, applySql } from '../core/support.js';
import { fetchFrom, startTestLineup, TEST_KEY, type TestLineup } from '../helpers/lineup.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';
import { keyOf, redirectFrom } from './support.js';

/** What a player does with a Flussonic catch-up source: fill in the programme's start and length. */
const fillIn = (source: string, utc: number, duration: number) =>
  source.replace('{utc}', String(utc)).replace('{duration}', String(duration));

const CHANNELS = `
  INSERT INTO origins (name, base_url, scheme, secret) VALUES ('edge', 'http://edge.test', 'nginx', 'edge-secret');
  INSERT INTO origins (name, base_url, secret, link_mode) VALUES ('relay', 'http://relay.test', 'relay-key', 'redirect');
  INSERT INTO channels (id, stream, name, number, catchup_days, origin) VALUES
    (1, 'news', 'News', 1, 0, NULL),
    (2, 'live/sport', 'Sport', 2, 7, NULL),
    (3, 'films', 'Films', 3, 3, 'edge'),
    (4, 'relayed', 'Relayed', 4, 2, 'relay');`;

describe('catch-up in direct mode', () => {
  let lineup: TestLineup;
  let playlistUrl: string;
  beforeAll(async () => {
    lineup = await startTestLineup();
    await applySql(lineup, CHANNELS);
    playlistUrl = await addSubscriber(lineup, 'alice');
  });
  afterAll(() => lineup.close());

  it('when a channel keeps an archive, then iptv-playlist-parser reads catchup type, days and a source whose token verifies', async () => {
    const { items } = parser.parse((await fetchFrom(playlistUrl)).body);
    const sport = items.find((item) => item.name === 'Sport')!;
    expect(sport.catchup.type).toBe('flussonic');
    expect(sport.catchup.days).toBe('7');
    expect(sport.catchup.source).toMatch(/^http:\/\/origin\.test\/live\/sport\/index-\{utc\}-\{duration\}\.m3u8\?token=/);
    // The same token as the live URL: Flussonic accepts it for every file of the stream until endtime.
    expect(new URL(sport.catchup.source).search).toBe(new URL(sport.url).search);
    const archive = fillIn(sport.catchup.source, 1_700_000_000, 3600);
    const check = verifySecuretokenUrl(archive, { key: TEST_KEY, ip: '127.0.0.1', stream: 'live/sport' });
    expect(check.reason).toBe('');
    expect(check.endtime! - check.starttime!).toBe(10800);
  });

  it('when the playlist is MPEG-TS, then the catch-up is flussonic-ts with a timeshift_abs source', async () => {
    const { items } = parser.parse((await fetchFrom(`${playlistUrl}?output=ts`)).body);
    const sport = items.find((item) => item.name === 'Sport')!;
    expect(sport.catchup.type).toBe('flussonic-ts');
    expect(sport.catchup.source).toMatch(/^http:\/\/origin\.test\/live\/sport\/timeshift_abs-\{utc\}\.ts\?token=/);
    expect(
      verifySecuretokenUrl(fillIn(sport.catchup.source, 1_700_000_000, 0), { key: TEST_KEY, ip: '127.0.0.1', stream: 'live/sport' }).valid,
    ).toBe(true);
  });

  it('when a Kodi-style catch-up URL is derived from the live URL (timeshift_abs, same query), then its token verifies', async () => {
    const { items } = parser.parse((await fetchFrom(`${playlistUrl}?output=ts`)).body);
    const live = new URL(items.find((item) => item.name === 'Sport')!.url);
    const derived = `${live.origin}${live.pathname.replace(/mpegts$/, 'timeshift_abs-1700000000.ts')}${live.search}`;
    expect(verifySecuretokenUrl(derived, { key: TEST_KEY, ip: '127.0.0.1', stream: 'live/sport' }).valid).toBe(true);
  });

  it('when a channel has no archive, then its lines carry no catch-up attribute at all', async () => {
    const body = (await fetchFrom(playlistUrl)).body;
    const newsLine = body.split('\n').find((line) => line.endsWith(',News'))!;
    expect(newsLine).toBe('#EXTINF:-1 tvg-name="News" tvg-chno="1",News');
  });

  it('when the origin signs exact paths (nginx secure_link), then no unsignable catch-up template is announced', async () => {
    const { items } = parser.parse((await fetchFrom(playlistUrl)).body);
    const films = items.find((item) => item.name === 'Films')!;
    expect(films.url).toMatch(/^http:\/\/edge\.test\/films\/index\.m3u8\?md5=/);
    expect(films.catchup.type).toBe('');
    expect(films.catchup.source).toBe('');
  });

  it('when one origin is set to redirect mode, then only its channels link through Lineup, catch-up included', async () => {
    const key = keyOf(playlistUrl);
    const { items } = parser.parse((await fetchFrom(playlistUrl)).body);
    const relayed = items.find((item) => item.name === 'Relayed')!;
    expect(relayed.url).toBe(`http://lineup.test/play/${key}/4.m3u8`);
    expect(relayed.catchup).toEqual({
      type: 'flussonic',
      days: '2',
      source: `http://lineup.test/play/${key}/4/index-{utc}-{duration}.m3u8`,
    });
    expect(items.find((item) => item.name === 'Sport')!.url).toMatch(/^http:\/\/origin\.test\//);
    const archive = fillIn(relayed.catchup.source, 1_700_000_000, 1800).replace('http://lineup.test', lineup.url);
    const { location } = await redirectFrom(archive);
    expect(location).toMatch(/^http:\/\/relay\.test\/relayed\/index-1700000000-1800\.m3u8\?token=/);
    expect(verifySecuretokenUrl(location, { key: 'relay-key', ip: '127.0.0.1', stream: 'relayed' }).valid).toBe(true);
  });
});

describe('catch-up in redirect mode', () => {
  let lineup: TestLineup;
  beforeAll(async () => {
    lineup = await startTestLineup({ env: { LINK_MODE: 'redirect' } });
    await applySql(lineup, CHANNELS);
  });
  afterAll(() => lineup.close());

  it('when every link goes through Lineup, then even an nginx origin gets catch-up, signed per archive file on request', async () => {
    const playlistUrl = await addSubscriber(lineup, 'bob');
    const key = keyOf(playlistUrl);
    const { items } = parser.parse((await fetchFrom(`${playlistUrl}?output=ts`)).body);
    const films = items.find((item) => item.name === 'Films')!;
    expect(films.catchup).toEqual({ type: 'flussonic-ts', days: '3', source: `http://lineup.test/play/${key}/3/timeshift_abs-{utc}.ts` });
    const { location } = await redirectFrom(`${lineup.url}/play/${key}/3/timeshift_abs-1700000000.ts`, '127.0.0.2');
    expect(location).toMatch(/^http:\/\/edge\.test\/films\/timeshift_abs-1700000000\.ts\?md5=[\w-]+&expires=\d+$/);
  });
});

describe('catch-up when every channel shares one origin (tokens signed in one batch)', () => {
  let lineup: TestLineup;
  let playlistUrl: string;
  beforeAll(async () => {
    lineup = await startTestLineup();
    // One origin, so every fill is as wide as the others: the playlist is signed by the batch
    // signer, which writes each catch-up source's token and copies it to the live URL.
    await applySql(
      lineup,
      `INSERT INTO channels (stream, name, number, catchup_days) VALUES
         ('news', 'News', 1, 0), ('live/sport', 'Sport', 2, 7), ('films', 'Films', 3, 3), ('kids', 'Kids', 4, 0), ('docs', 'Docs', 5, 1);`,
    );
    playlistUrl = await addSubscriber(lineup, 'carol');
  });
  afterAll(() => lineup.close());

  it('when the playlist is read, then every live URL and every catch-up source carries a token that verifies for its own stream', async () => {
    for (const output of ['', '?output=ts']) {
      const { items } = parser.parse((await fetchFrom(`${playlistUrl}${output}`)).body);
      expect(items.map((item) => item.name)).toEqual(['News', 'Sport', 'Films', 'Kids', 'Docs']);
      for (const item of items) {
        const stream = new URL(item.url).pathname.slice(1).replace(/\/(index\.m3u8|mpegts)$/, '');
        expect(verifySecuretokenUrl(item.url, { key: TEST_KEY, ip: '127.0.0.1', stream }).reason).toBe('');
        if (!item.catchup.source) continue;
        expect(new URL(item.catchup.source).search).toBe(new URL(item.url).search);
        expect(
          verifySecuretokenUrl(fillIn(item.catchup.source, 1_700_000_000, 600), { key: TEST_KEY, ip: '127.0.0.1', stream }).reason,
        ).toBe('');
      }
    }
  });
});
