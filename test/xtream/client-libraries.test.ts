import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseM3U } from '@iptv/playlist';
import { Xtream } from '@iptv/xtream-api';
import { standardizedSerializer } from '@iptv/xtream-api/standardized';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySql, expectAllTokensValid } from '../core/support.js';
import { onServer, startTestLineup, TEST_KEY, type TestLineup, tempDir } from '../helpers/lineup.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';
import { addXcSubscriber } from './support.js';

/**
 * The XC client libraries from npm, driven as apps drive them: log in, list, read the guide, build
 * each stream URL their own way and follow it to a 302 whose token verifies for this address.
 */
const LINEUP_SQL = `
INSERT INTO channels (stream, name, number, group_title, logo, tvg_id, catchup_days) VALUES
  ('news',     'News, "24"', 1, 'News',  'http://logos.test/n.png', 'news.tv', 2),
  ('sport/hd', 'Sport',      2, 'Sport', '', 'sport.tv', 0),
  ('bare',     '',           3, '',      '', '', 0);
`;

const HOUR = Math.floor(Date.now() / 3_600_000) * 3600;
const at = (seconds: number) => `${new Date((HOUR + seconds) * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14)} +0000`;
const GUIDE = `<?xml version="1.0" encoding="UTF-8"?>
<tv>
  <programme start="${at(-3600)}" stop="${at(0)}" channel="news.tv"><title>Before</title></programme>
  <programme start="${at(0)}" stop="${at(3600)}" channel="news.tv"><title>Now</title><desc>On air</desc></programme>
  <programme start="${at(3600)}" stop="${at(7200)}" channel="news.tv"><title>Next</title></programme>
</tv>
`;

const guideDir = tempDir();
let lineup: TestLineup;
let password: string;

beforeAll(async () => {
  writeFileSync(join(guideDir.dir, 'guide.xml'), GUIDE);
  lineup = await startTestLineup({ env: { EPG_FILE: join(guideDir.dir, 'guide.xml') } });
  await lineup.context.guide.check();
  await applySql(lineup, LINEUP_SQL);
  ({ password } = await addXcSubscriber(lineup, 'alice', '--days', '30'));
});
afterAll(async () => {
  await lineup.close();
  guideDir.cleanup();
});

/** Follows one hop: the 302's Location, which must hold a token valid for 127.0.0.1 and the stream. */
async function followToOrigin(url: string): Promise<string> {
  const response = await fetch(url, { redirect: 'manual' });
  expect(response.status, url).toBe(302);
  return response.headers.get('location') ?? '';
}

/** The origin URLs, checked by the project's securetoken verifier as one playlist. */
function expectValidOriginUrls(locations: string[]): void {
  expectAllTokensValid(`#EXTM3U\n${locations.map((location) => `#EXTINF:-1,x\n${location}\n`).join('')}`, '127.0.0.1');
}

describe('@iptv/xtream-api, raw responses', () => {
  it('when it logs in, lists, reads the short EPG and plays every channel its own way, then each link lands on a valid token', async () => {
    const xtream = new Xtream({ url: lineup.url, username: 'alice', password });
    const profile = await xtream.getProfile();
    expect(profile).toMatchObject({ username: 'alice', password, auth: 1, status: 'Active' });
    expect((await xtream.getServerInfo()).timezone).toBe('UTC');
    const categories = await xtream.getChannelCategories();
    expect(categories.map((category) => category.category_name)).toEqual(['News', 'Sport', 'Uncategorized']);
    const channels = await xtream.getChannels();
    expect(channels.map((channel) => channel.name)).toEqual(['News, "24"', 'Sport', 'bare']);
    const sport = await xtream.getChannels({ categoryId: categories[1]!.category_id });
    expect(sport.map((channel) => channel.name)).toEqual(['Sport']);
    expect(await xtream.getMovies()).toEqual([]);
    expect(await xtream.getShows()).toEqual([]);

    const news = channels[0]!;
    const epg = await xtream.getShortEPG({ channelId: news.stream_id, limit: 2 });
    expect(epg.epg_listings.map((entry) => Buffer.from(entry.title, 'base64').toString())).toEqual(['Now', 'Next']);
    const full = await xtream.getFullEPG({ channelId: news.stream_id });
    expect(full.epg_listings.map((entry) => entry.now_playing)).toEqual([0, 1, 0]);

    const locations = await Promise.all(channels.map((channel) => followToOrigin(String((channel as { url?: string }).url))));
    expect(locations.map((location) => new URL(location).pathname)).toEqual(['/news/mpegts', '/sport/hd/mpegts', '/bare/mpegts']);
    expectValidOriginUrls(locations);
  });

  it('when it prefers HLS, then its /live/…m3u8 links land on the HLS URLs', async () => {
    const xtream = new Xtream({ url: lineup.url, username: 'alice', password, preferredFormat: 'm3u8' });
    const channels = await xtream.getChannels();
    const locations = await Promise.all(channels.map((channel) => followToOrigin(String((channel as { url?: string }).url))));
    expect(locations.every((location) => new URL(location).pathname.endsWith('/index.m3u8'))).toBe(true);
    expectValidOriginUrls(locations);
  });

  it('when it builds a catch-up URL for the programme before, then it lands on that archive window with a valid token', async () => {
    const xtream = new Xtream({ url: lineup.url, username: 'alice', password });
    const [news] = await xtream.getChannels();
    const start = new Date((HOUR - 3600) * 1000);
    const url = xtream.generateStreamUrl({
      type: 'channel',
      streamId: news!.stream_id,
      extension: 'ts',
      timeshift: { start, duration: 60 },
    });
    expect(url).toContain('/timeshift/alice/');
    const location = await followToOrigin(String(url));
    expect(new URL(location).pathname).toBe(`/news/archive-${HOUR - 3600}-3600.ts`);
    expect(verifySecuretokenUrl(location, { key: TEST_KEY, ip: '127.0.0.1', stream: 'news' }).valid).toBe(true);
  });

  it('when the password is wrong, then its login throws instead of taking the account for a valid one', async () => {
    const xtream = new Xtream({ url: lineup.url, username: 'alice', password: 'wrong-pass' });
    await expect(xtream.getProfile()).rejects.toThrow();
  });
});

describe('@iptv/xtream-api, standardized mode', () => {
  it('when it logs in, lists, reads the guide and plays, then every serializer gets what it needs and each link lands on a valid token', async () => {
    const xtream = new Xtream({ url: lineup.url, username: 'alice', password, serializer: standardizedSerializer });
    const profile = await xtream.getProfile();
    expect(profile).toMatchObject({ username: 'alice', status: 'Active', maxConnections: 1, activeConnections: 0 });
    expect(profile.expiresAt.getTime()).toBeGreaterThan(Date.now());
    const categories = await xtream.getChannelCategories();
    expect(categories.map((category) => category.name)).toEqual(['News', 'Sport', 'Uncategorized']);
    const channels = await xtream.getChannels();
    expect(channels.map((channel) => [channel.name, channel.tvArchive, channel.categoryIds?.length])).toEqual([
      ['News, "24"', true, 1],
      ['Sport', false, 1],
      ['bare', false, 1],
    ]);
    const epg = await xtream.getShortEPG({ channelId: channels[0]!.id });
    expect(epg.map((entry) => [entry.title, entry.description])).toEqual([
      ['Now', 'On air'],
      ['Next', ''],
    ]);
    expect(epg[0]!.start.getTime()).toBe(HOUR * 1000);
    const full = await xtream.getFullEPG({ channelId: channels[0]!.id });
    expect(full.map((entry) => [entry.title, entry.nowPlaying, entry.hasArchive])).toEqual([
      ['Before', false, true],
      ['Now', true, false],
      ['Next', false, false],
    ]);
    const locations = await Promise.all(channels.map((channel) => followToOrigin(String(channel.url))));
    expectValidOriginUrls(locations);
  });
});

describe('@iptv/playlist on get.php', () => {
  it.each([
    ['m3u_plus, ts', 'type=m3u_plus&output=ts', '/mpegts'],
    ['m3u, m3u8', 'type=m3u&output=m3u8', '/index.m3u8'],
  ])('when it parses get.php (%s), then every entry plays through a 302 to a valid token', async (_, query, suffix) => {
    const response = await fetch(`${lineup.url}/get.php?username=alice&password=${password}&${query}`);
    expect(response.status).toBe(200);
    const playlist = parseM3U(await response.text());
    // M3U has no escaping: a double quote in a name becomes a single one (the playlist's own rule).
    expect(playlist.channels.map((channel) => channel.name)).toEqual(["News, '24'", 'Sport', 'bare']);
    if (query.includes('m3u_plus')) {
      expect(playlist.channels.map((channel) => channel.groupTitle)).toEqual(['News', 'Sport', 'Uncategorized']);
      expect(playlist.channels[0]!.tvgId).toBe('news.tv');
      expect(playlist.headers?.xTvgUrl).toContain('/xmltv.php?username=alice&password=');
    }
    // The links are on PUBLIC_URL (http://lineup.test), which is this test server.
    const locations = await Promise.all(playlist.channels.map((channel) => followToOrigin(onServer(lineup, String(channel.url)))));
    expect(locations.every((location) => new URL(location).pathname.endsWith(suffix))).toBe(true);
    expectValidOriginUrls(locations);
  });
});
