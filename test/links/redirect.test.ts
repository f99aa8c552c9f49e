import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSubscriber, applySql, parsePlaylist } from '../core/support.js';
import { fetchFrom, lastLine, onServer, startTestLineup, TEST_KEY, type TestLineup } from '../helpers/lineup.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';
import { keyOf, redirectFrom } from './support.js';

let lineup: TestLineup;
let playlistUrl: string;
let key: string;

/** The ids the SQL below gives the channels. */
const NEWS = 1;
const SPORT = 2;
const PREMIUM = 3;

beforeAll(async () => {
  lineup = await startTestLineup({ env: { LINK_MODE: 'redirect' } });
  await applySql(
    lineup,
    `INSERT INTO channels (id, stream, name, number, catchup_days) VALUES
       (${NEWS}, 'news', 'News', 1, 0), (${SPORT}, 'live/sport', 'Sport', 2, 3), (${PREMIUM}, 'premium', 'Premium', 3, 0);
     INSERT INTO packages (id, name) VALUES (1, 'gold');
     INSERT INTO package_channels (package_id, channel_id) VALUES (1, ${PREMIUM});`,
  );
  playlistUrl = await addSubscriber(lineup, 'alice');
  key = keyOf(playlistUrl);
});
afterAll(() => lineup.close());

const play = (path: string, withKey = key) => `${lineup.url}/play/${withKey}/${path}`;

describe('redirect mode playlists', () => {
  it('when LINK_MODE is redirect, then the playlist holds stable Lineup links with no token', async () => {
    const response = await fetchFrom(playlistUrl);
    expect(response.status).toBe(200);
    const urls = parsePlaylist(response.body).map((entry) => entry.url);
    expect(urls).toEqual([`http://lineup.test/play/${key}/${NEWS}.m3u8`, `http://lineup.test/play/${key}/${SPORT}.m3u8`]);
    expect(response.body).not.toContain('token=');
  });

  it('when the playlist asks for MPEG-TS, then the links end in .ts', async () => {
    const response = await fetchFrom(`${playlistUrl}?output=ts`);
    expect(parsePlaylist(response.body).map((entry) => entry.url)[0]).toBe(`http://lineup.test/play/${key}/${NEWS}.ts`);
  });

  it('when two addresses follow the same link, then each gets its own token bound to it, and both verify', async () => {
    const first = (await redirectFrom(play(`${NEWS}.m3u8`), '127.0.0.1')).location;
    const second = (await redirectFrom(play(`${NEWS}.m3u8`), '127.0.0.2')).location;
    expect(first).toMatch(/^http:\/\/origin\.test\/news\/index\.m3u8\?token=/);
    expect(second).toMatch(/^http:\/\/origin\.test\/news\/index\.m3u8\?token=/);
    expect(new URL(first).searchParams.get('token')).not.toBe(new URL(second).searchParams.get('token'));
    expect(verifySecuretokenUrl(first, { key: TEST_KEY, ip: '127.0.0.1' }).valid).toBe(true);
    expect(verifySecuretokenUrl(second, { key: TEST_KEY, ip: '127.0.0.2' }).valid).toBe(true);
    expect(verifySecuretokenUrl(first, { key: TEST_KEY, ip: '127.0.0.2' }).valid).toBe(false);
  });

  it('when the .ts link is followed, then the redirect is to the signed MPEG-TS URL', async () => {
    const { location } = await redirectFrom(play(`${SPORT}.ts`));
    expect(location).toMatch(/^http:\/\/origin\.test\/live\/sport\/mpegts\?token=/);
    expect(verifySecuretokenUrl(location, { key: TEST_KEY, ip: '127.0.0.1' }).valid).toBe(true);
  });

  it('when a channel with catch-up is asked for an archive file, then the redirect signs that file', async () => {
    const hls = (await redirectFrom(play(`${SPORT}/index-1700000000-3600.m3u8`))).location;
    expect(hls).toMatch(/^http:\/\/origin\.test\/live\/sport\/index-1700000000-3600\.m3u8\?token=/);
    expect(verifySecuretokenUrl(hls, { key: TEST_KEY, ip: '127.0.0.1', stream: 'live/sport' }).valid).toBe(true);
    const ts = (await redirectFrom(play(`${SPORT}/timeshift_abs-1700000000.ts`))).location;
    expect(ts).toMatch(/^http:\/\/origin\.test\/live\/sport\/timeshift_abs-1700000000\.ts\?token=/);
    expect(verifySecuretokenUrl(ts, { key: TEST_KEY, ip: '127.0.0.1', stream: 'live/sport' }).valid).toBe(true);
  });

  it('when the archive file is not one Lineup announces, then 404', async () => {
    expect((await fetchFrom(play(`${SPORT}/index.m3u8?x=1`))).status).toBe(404);
    expect((await fetchFrom(play(`${SPORT}/..%2f..%2fsecret-1.ts`))).status).toBe(404);
  });

  it('when a player asks for catch-up on a channel that keeps no archive, then 404 saying the channel has no catch-up', async () => {
    for (const file of ['index-1700000000-3600.m3u8', 'timeshift_abs-1700000000.ts']) {
      const response = await fetchFrom(play(`${NEWS}/${file}`));
      expect(response.status, file).toBe(404);
      expect(response.body).toBe('This channel has no catch-up\n');
    }
  });

  it('when catch-up is asked for on a channel the subscriber cannot see or that does not exist, then still "No such channel"', async () => {
    // Premium keeps no archive either, but alice is not in its package: nothing may tell her it exists.
    for (const channel of [PREMIUM, 999]) {
      const response = await fetchFrom(play(`${channel}/index-1700000000-3600.m3u8`));
      expect(response.status, String(channel)).toBe(404);
      expect(response.body).toBe('No such channel\n');
    }
    const goldUrl = await addSubscriber(lineup, 'gold-archive', '--package', 'gold');
    expect((await fetchFrom(play(`${PREMIUM}/index-1700000000-3600.m3u8`, keyOf(goldUrl)))).body).toBe('This channel has no catch-up\n');
  });

  it('when the channel is outside the subscriber\'s packages or does not exist, then 404 "No such channel"', async () => {
    for (const path of [`${PREMIUM}.m3u8`, '999.m3u8', 'news.m3u8']) {
      const response = await fetchFrom(play(path));
      expect(response.status, path).toBe(404);
      expect(response.body).toBe('No such channel\n');
    }
  });

  it('when the subscriber has the package, then the packaged channel redirects too', async () => {
    const goldUrl = await addSubscriber(lineup, 'gold-viewer', '--package', 'gold');
    const { location } = await redirectFrom(play(`${PREMIUM}.m3u8`, keyOf(goldUrl)));
    expect(verifySecuretokenUrl(location, { key: TEST_KEY, ip: '127.0.0.1' }).stream).toBe('premium');
  });

  it('when the subscription lapses after the playlist was fetched, then /play answers 403 at once', async () => {
    const url = await addSubscriber(lineup, 'bob');
    expect((await fetchFrom(url)).status).toBe(200);
    await redirectFrom(play(`${NEWS}.m3u8`, keyOf(url)));
    await applySql(lineup, "UPDATE subscribers SET expires_at = datetime('now', '-1 second') WHERE username = 'bob';");
    const refused = await fetchFrom(play(`${NEWS}.m3u8`, keyOf(url)));
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(/^Subscription expired on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    expect(refused.headers.location).toBeUndefined();
  });

  it('when the subscriber is disabled, then /play answers 403', async () => {
    const url = await addSubscriber(lineup, 'carol');
    expect((await lineup.cli(['subscriber', 'disable', 'carol'])).code).toBe(0);
    const refused = await fetchFrom(play(`${NEWS}.m3u8`, keyOf(url)));
    expect(refused.status).toBe(403);
    expect(refused.body.toLowerCase()).toContain('disabled');
  });

  it('when the key is rotated, then the old links answer 403 saying so, and the new ones work', async () => {
    const url = await addSubscriber(lineup, 'dave');
    const rotated = await lineup.cli(['subscriber', 'rotate', 'dave']);
    expect(rotated.code).toBe(0);
    const old = await fetchFrom(play(`${NEWS}.m3u8`, keyOf(url)));
    expect(old.status).toBe(403);
    expect(old.headers.location).toBeUndefined();
    expect(old.body).toMatch(/has been replaced/);
    await redirectFrom(play(`${NEWS}.m3u8`, keyOf(onServer(lineup, lastLine(rotated.stdout)))));
  });

  it('when `lineup render` shows a redirect-mode playlist, then the links hold [key]: only the hash is stored', async () => {
    const rendered = await lineup.cli(['render', 'alice', '--ip', '192.0.2.1']);
    expect(rendered.code).toBe(0);
    expect(parsePlaylist(rendered.stdout).map((entry) => entry.url)[0]).toBe(`http://lineup.test/play/[key]/${NEWS}.m3u8`);
  });

  it('when a /play link is asked with HEAD, then it redirects the same way', async () => {
    const response = await fetchFrom(play(`${NEWS}.m3u8`), { method: 'HEAD' });
    expect(response.status).toBe(302);
    expect(verifySecuretokenUrl(response.headers.location as string, { key: TEST_KEY, ip: '127.0.0.1' }).valid).toBe(true);
  });

  it('when /play requests are logged, then neither the key nor the token appears', async () => {
    const { location } = await redirectFrom(play(`${NEWS}.m3u8`));
    const logs = lineup.logs.text();
    expect(logs).toContain('/play/[key]/');
    expect(logs).not.toContain(key);
    expect(logs).not.toContain(new URL(location).searchParams.get('token'));
  });
});
