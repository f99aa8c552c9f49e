import parser from 'iptv-playlist-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiredPlaylist } from '../../src/playlist/expiry-placeholder.js';
import { addSubscriber, applySql, parsePlaylist } from '../core/support.js';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { keyOf } from './support.js';

const INFO_STREAM = 'http://info.test/renew/index.m3u8';

describe('visible expiry (EXPIRED_STREAM_URL)', () => {
  let lineup: TestLineup;
  beforeAll(async () => {
    lineup = await startTestLineup({ env: { EXPIRED_STREAM_URL: INFO_STREAM, LINK_MODE: 'redirect' } });
    await applySql(lineup, "INSERT INTO channels (id, stream, name, number) VALUES (1, 'news', 'News', 1);");
  });
  afterAll(() => lineup.close());

  it('when the subscription has expired, then the playlist is a 200 with one readable entry pointing at the information stream', async () => {
    const url = await addSubscriber(lineup, 'lapsed', '--until', '2020-03-04 05:06:07', '--allow-past');
    const response = await fetchFrom(url);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('audio/x-mpegurl; charset=utf-8');
    expect(response.headers['cache-control']).toBe('private, no-cache');
    const { items } = parser.parse(response.body);
    expect(items).toHaveLength(1);
    expect(items[0]!.name).toBe('Subscription expired on 2020-03-04');
    expect(items[0]!.url).toBe(INFO_STREAM);
  });

  it('when the expired subscriber follows an old /play link, then it is still refused with 403', async () => {
    const url = await addSubscriber(lineup, 'lapsed-player', '--until', '2020-03-04', '--allow-past');
    const response = await fetchFrom(`${lineup.url}/play/${keyOf(url)}/1.m3u8`);
    expect(response.status).toBe(403);
    expect(response.headers.location).toBeUndefined();
  });

  it('when the subscriber is disabled rather than expired, then the playlist stays a 403', async () => {
    const url = await addSubscriber(lineup, 'switched-off');
    expect((await lineup.cli(['subscriber', 'disable', 'switched-off'])).code).toBe(0);
    expect((await fetchFrom(url)).status).toBe(403);
  });

  it('when the subscription is active, then the real lineup is served', async () => {
    const url = await addSubscriber(lineup, 'active');
    expect(parsePlaylist((await fetchFrom(url)).body).map((entry) => entry.name)).toEqual(['News']);
  });
});

describe('expiredPlaylist', () => {
  it('when the URL holds a comma, a quote or a line break, then it stays one URL line', () => {
    const body = expiredPlaylist('2026-01-02 03:04:05', 'http://info.test/a,b"c\n#EXTINF:-1,Injected\nhttp://evil.test/');
    expect(body.split('\n')).toHaveLength(4);
    expect(body).toBe(
      '#EXTM3U\n#EXTINF:-1 tvg-name="Subscription expired on 2026-01-02" group-title="Subscription",Subscription expired on 2026-01-02\n' +
        'http://info.test/a%2Cb%22c#EXTINF:-1%2CInjectedhttp://evil.test/\n',
    );
  });
});
