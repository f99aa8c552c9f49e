import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySql } from '../core/support.js';
import { fetchFrom, onServer, startTestLineup, TEST_KEY, type TestLineup, tempDir } from '../helpers/lineup.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';
import { accountSchema, categoriesSchema, shortEpgSchema, simpleDataTableSchema, streamsSchema } from './schemas.js';
import { addXcSubscriber, json, playerApi } from './support.js';

/** Hostile and empty values: no logo, no group, no tvg-id, names with quotes, commas and line breaks. */
const LINEUP_SQL = `
INSERT INTO channels (stream, name, number, group_title, logo, tvg_id, catchup_days) VALUES
  ('news',        'News "24", Live',  1, 'News',  'http://logos.test/n.png', 'news.tv', 3),
  ('bare',        '',                 2, '',      '', '', 0),
  ('quotes',      'Say "hi", <b>&amp;' || char(10) || 'next', 3, 'Odd "group", yes', '', 'odd&id', 0),
  ('nonumber',    'No Number',        NULL, 'News', '', '', 0);
INSERT INTO packages (name) VALUES ('premium');
INSERT INTO channels (stream, name, number, group_title) VALUES ('prem/movies', 'Premium Movies', 30, 'Movies');
INSERT INTO package_channels (package_id, channel_id)
  SELECT p.id, c.id FROM packages p JOIN channels c ON p.name = 'premium' AND c.stream = 'prem/movies';
`;

/** XMLTV time of `seconds` from the start of this hour. */
const HOUR = Math.floor(Date.now() / 3_600_000) * 3600;
const at = (seconds: number) => `${new Date((HOUR + seconds) * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14)} +0000`;

/** news.tv: one programme over (in its 3 catch-up days), one on air, two next; odd&id: one. */
const GUIDE = `<?xml version="1.0" encoding="UTF-8"?>
<tv>
  <channel id="news.tv"><display-name>News</display-name></channel>
  <programme start="${at(-3600)}" stop="${at(0)}" channel="news.tv"><title lang="en">Morning &amp; more</title><desc lang="en">Earlier</desc></programme>
  <programme start="${at(0)}" stop="${at(3600)}" channel="news.tv"><title lang="en">Café «live»</title><desc lang="en">Now, with "quotes"</desc></programme>
  <programme start="${at(3600)}" stop="${at(7200)}" channel="news.tv"><title lang="en">Next</title></programme>
  <programme start="${at(7200)}" stop="${at(10800)}" channel="news.tv"><title lang="en">Later</title></programme>
  <programme start="${at(0)}" stop="${at(3600)}" channel="odd&amp;id"><title>Odd</title></programme>
  <programme start="${at(0)}" stop="${at(3600)}" channel="nobody.tv"><title>Nobody's</title></programme>
</tv>
`;

const guideDir = tempDir();
let lineup: TestLineup;
let alice: { password: string; playlistUrl: string };
let bob: { password: string; playlistUrl: string };
let lapsed: { password: string; playlistUrl: string };
let channelIds: Record<string, number>;

beforeAll(async () => {
  writeFileSync(join(guideDir.dir, 'guide.xml'), GUIDE);
  lineup = await startTestLineup({ env: { EPG_FILE: join(guideDir.dir, 'guide.xml') } });
  await lineup.context.guide.check();
  await applySql(lineup, LINEUP_SQL);
  alice = await addXcSubscriber(lineup, 'alice', '--days', '30');
  bob = await addXcSubscriber(lineup, 'bob', '--days', '30', '--package', 'premium', '--max-connections', '3');
  lapsed = await addXcSubscriber(lineup, 'lapsed', '--until', '2020-03-04 05:06:07', '--allow-past');
  channelIds = Object.fromEntries(
    (lineup.context.db.prepare('SELECT stream, id FROM channels').raw().all() as Array<[string, number]>).map(([stream, id]) => [
      stream,
      id,
    ]),
  );
});
afterAll(async () => {
  await lineup.close();
  guideDir.cleanup();
});

const as = (who: { password: string }, username: string, fields: Record<string, string> = {}) =>
  playerApi(lineup, { username, password: who.password, ...fields });

describe('player_api.php: the account object', () => {
  it.each([
    ['no action', {}],
    ['get_profile', { action: 'get_profile' }],
    ['get_server_info', { action: 'get_server_info' }],
    ['get_account_info', { action: 'get_account_info' }],
    ['get_user_info', { action: 'get_user_info' }],
    ['an unknown action', { action: 'get_everything' }],
  ])('when a right login asks %s, then it answers the account object with every field typed as XC sends it', async (_, fields) => {
    const response = await as(alice, 'alice', fields);
    expect(response.status).toBe(200);
    const account = accountSchema.parse(json(response));
    expect(account.user_info).toMatchObject({
      username: 'alice',
      password: alice.password,
      status: 'Active',
      auth: 1,
      max_connections: '1',
    });
    expect(account.user_info.active_cons).toBe('0');
    expect(Number(account.user_info.exp_date)).toBeGreaterThan(Date.now() / 1000 + 29 * 86_400);
    expect(account.server_info).toMatchObject({ url: 'lineup.test', port: '80', https_port: '', server_protocol: 'http' });
    expect(Math.abs(account.server_info.timestamp_now - Date.now() / 1000)).toBeLessThan(60);
  });

  it('when the login is POSTed form-encoded (IPTV Smarters), then it answers as GET does', async () => {
    const body = new URLSearchParams({ username: 'bob', password: bob.password, action: 'get_profile' }).toString();
    const response = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const req = request(
        `${lineup.url}/player_api.php`,
        { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
        (res) => {
          let text = '';
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(response.status).toBe(200);
    expect(response.type).toMatch(/^application\/json/);
    expect(accountSchema.parse(JSON.parse(response.body)).user_info).toMatchObject({ username: 'bob', max_connections: '3' });
  });

  it.each([
    ['a wrong password', 'alice', 'wrongpassw'],
    ['an unknown username', 'nobody', 'whatever12'],
    ['no credentials', '', ''],
    ['a username with a slash', 'a/b', 'whatever12'],
  ])('when the login has %s, then it answers 401 {"user_info":{"auth":0}} as JSON', async (_, username, password) => {
    const response = await playerApi(lineup, { username, password, action: 'get_live_streams' });
    expect(response.status).toBe(401);
    expect(json(response)).toEqual({ user_info: { auth: 0 } });
  });

  it('when the line has expired, then the account object says "Expired" with a past exp_date, and the lists answer 403 as JSON', async () => {
    const response = await as(lapsed, 'lapsed');
    expect(response.status).toBe(200);
    const account = accountSchema.parse(json(response));
    expect(account.user_info.status).toBe('Expired');
    expect(account.user_info.exp_date).toBe(String(Date.parse('2020-03-04T05:06:07Z') / 1000));
    expect(account.user_info.message).toContain('2020-03-04 05:06:07');
    for (const action of ['get_live_categories', 'get_live_streams', 'get_short_epg', 'get_vod_streams']) {
      const refused = await as(lapsed, 'lapsed', { action, stream_id: '1' });
      expect(refused.status, action).toBe(403);
      json(refused);
    }
  });

  it('when the line is disabled, then the account object says "Disabled", and its stream links answer 403', async () => {
    const carol = await addXcSubscriber(lineup, 'carol', '--days', '5');
    expect((await lineup.cli(['subscriber', 'disable', 'carol'])).code).toBe(0);
    expect(accountSchema.parse(json(await as(carol, 'carol'))).user_info.status).toBe('Disabled');
    const live = await fetchFrom(`${lineup.url}/live/carol/${carol.password}/${channelIds.news}.ts`);
    expect(live.status).toBe(403);
    expect(live.headers.location).toBeUndefined();
  });
});

describe('player_api.php: lists', () => {
  it('when alice lists categories, then each has a digit-string id and a name, and channels without a group are in a real one', async () => {
    const categories = categoriesSchema.parse(json(await as(alice, 'alice', { action: 'get_live_categories' })));
    expect(categories.map((category) => category.category_name)).toEqual(['News', 'Uncategorized', 'Odd "group", yes']);
  });

  it('when alice lists streams, then they are typed as the spec says, in channel order, without the premium channel', async () => {
    const streams = streamsSchema.parse(json(await as(alice, 'alice', { action: 'get_live_streams' })));
    expect(streams.map((stream) => stream.stream_id)).toEqual([channelIds.news, channelIds.bare, channelIds.quotes, channelIds.nonumber]);
    const [news, bare, quotes] = streams;
    expect(news).toMatchObject({
      name: 'News "24", Live',
      stream_icon: 'http://logos.test/n.png',
      epg_channel_id: 'news.tv',
      tv_archive: 1,
      tv_archive_duration: 3,
    });
    expect(bare).toMatchObject({ name: 'bare', stream_icon: '', epg_channel_id: null, tv_archive: 0 });
    expect(quotes!.name).toBe('Say "hi", <b>&amp;\nnext');
    expect(news!.category_ids).toEqual([Number(news!.category_id)]);
  });

  it('when bob (premium) lists streams, then he also sees the premium channel, in its own category', async () => {
    const streams = streamsSchema.parse(json(await as(bob, 'bob', { action: 'get_live_streams' })));
    expect(streams.map((stream) => stream.stream_id)).toContain(channelIds['prem/movies']);
    const categories = categoriesSchema.parse(json(await as(bob, 'bob', { action: 'get_live_categories' })));
    expect(categories.map((category) => category.category_name)).toContain('Movies');
  });

  it('when streams are asked by category, then only that category comes, and an unknown one answers []', async () => {
    const categories = categoriesSchema.parse(json(await as(alice, 'alice', { action: 'get_live_categories' })));
    const news = categories.find((category) => category.category_name === 'News')!;
    const streams = streamsSchema.parse(json(await as(alice, 'alice', { action: 'get_live_streams', category_id: news.category_id })));
    expect(streams.map((stream) => stream.stream_id)).toEqual([channelIds.news, channelIds.nonumber]);
    expect(json(await as(alice, 'alice', { action: 'get_live_streams', category_id: '999999' }))).toEqual([]);
    const movies = lineup.context.db.prepare("SELECT id FROM categories WHERE group_title = 'Movies'").pluck().get();
    expect(json(await as(alice, 'alice', { action: 'get_live_streams', category_id: String(movies) }))).toEqual([]);
  });

  it('when groups are renamed, emptied and brought back, then every category keeps its id', async () => {
    const before = categoriesSchema.parse(json(await as(alice, 'alice', { action: 'get_live_categories' })));
    const idOf = (list: typeof before, name: string) => list.find((category) => category.category_name === name)?.category_id;
    await applySql(lineup, "UPDATE channels SET group_title = 'Sport' WHERE stream = 'nonumber';");
    const during = categoriesSchema.parse(json(await as(alice, 'alice', { action: 'get_live_categories' })));
    expect(idOf(during, 'News')).toBe(idOf(before, 'News'));
    expect(idOf(during, 'Sport')).toBeDefined();
    await applySql(
      lineup,
      "UPDATE channels SET group_title = 'Elsewhere' WHERE stream = 'news'; UPDATE channels SET group_title = 'News' WHERE stream = 'news';",
    );
    await applySql(lineup, "UPDATE channels SET group_title = 'News' WHERE stream = 'nonumber';");
    // An upsert script (the README's way to re-apply channels), run twice: its conflict policy must not reach the categories.
    const upsert = `INSERT INTO channels (stream, name, number, group_title) VALUES ('news', 'News "24", Live', 1, 'News'), ('extra', 'Extra', 99, 'Brand new')
      ON CONFLICT (stream) WHERE origin IS NULL DO UPDATE SET group_title = excluded.group_title;
      DELETE FROM channels WHERE stream = 'extra';`;
    await applySql(lineup, upsert);
    await applySql(lineup, upsert);
    const after = categoriesSchema.parse(json(await as(alice, 'alice', { action: 'get_live_categories' })));
    expect(after).toEqual(before);
  });

  it.each(['get_vod_categories', 'get_vod_streams', 'get_series_categories', 'get_series'])(
    'when %s is asked, then it answers []',
    async (action) => {
      const response = await as(alice, 'alice', { action });
      expect(response.status).toBe(200);
      expect(json(response)).toEqual([]);
    },
  );

  it.each(['get_vod_info', 'get_series_info'])('when %s is asked, then it answers an object with an empty info list', async (action) => {
    expect(json(await as(alice, 'alice', { action, vod_id: '1', series_id: '1' }))).toMatchObject({ info: [] });
  });

  it('when get_short_epg is asked, then it lists what is on now and next, `limit` of them (default 4), base64 texts and UTC times', async () => {
    const two = shortEpgSchema.parse(
      json(await as(alice, 'alice', { action: 'get_short_epg', stream_id: String(channelIds.news), limit: '2' })),
    );
    expect(two.epg_listings.map((entry) => Buffer.from(entry.title, 'base64').toString('utf8'))).toEqual(['Café «live»', 'Next']);
    const [now] = two.epg_listings;
    expect(now).toMatchObject({ channel_id: 'news.tv', lang: 'en', start_timestamp: String(HOUR), stop_timestamp: String(HOUR + 3600) });
    expect(now!.start).toBe(new Date(HOUR * 1000).toISOString().slice(0, 19).replace('T', ' '));
    expect(now!.stop).toBe(now!.end);
    expect(Buffer.from(now!.description, 'base64').toString('utf8')).toBe('Now, with "quotes"');
    const all = shortEpgSchema.parse(json(await as(alice, 'alice', { action: 'get_short_epg', stream_id: String(channelIds.news) })));
    expect(all.epg_listings).toHaveLength(3);
    const odd = shortEpgSchema.parse(json(await as(alice, 'alice', { action: 'get_short_epg', stream_id: String(channelIds.quotes) })));
    expect(odd.epg_listings.map((entry) => entry.channel_id)).toEqual(['odd&id']);
  });

  it('when get_simple_data_table is asked, then it covers the past too, with now_playing and has_archive', async () => {
    const table = simpleDataTableSchema.parse(
      json(await as(alice, 'alice', { action: 'get_simple_data_table', stream_id: String(channelIds.news) })),
    );
    expect(
      table.epg_listings.map((entry) => [Buffer.from(entry.title, 'base64').toString('utf8'), entry.now_playing, entry.has_archive]),
    ).toEqual([
      ['Morning & more', 0, 1],
      ['Café «live»', 1, 0],
      ['Next', 0, 0],
      ['Later', 0, 0],
    ]);
  });

  it('when the channel has no guide data, or the stream is unknown or unseen, then the EPG actions answer {"epg_listings": []}', async () => {
    for (const action of ['get_short_epg', 'get_simple_data_table']) {
      for (const streamId of [String(channelIds.bare), String(channelIds.nonumber), '999999', 'abc', String(channelIds['prem/movies'])]) {
        const response = await as(alice, 'alice', { action, stream_id: streamId, limit: '2' });
        expect(response.status).toBe(200);
        const body = json(response);
        (action === 'get_short_epg' ? shortEpgSchema : simpleDataTableSchema).parse(body);
        expect(body).toEqual({ epg_listings: [] });
      }
    }
  });
});

describe('get.php and xmltv.php', () => {
  it('when get.php is fetched with defaults, then it is an m3u_plus of /live/U/P/ID.ts links with every tvg attribute', async () => {
    const response = await fetchFrom(`${lineup.url}/get.php?username=alice&password=${alice.password}`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('audio/x-mpegurl; charset=utf-8');
    expect(response.headers['cache-control']).toBe('private, no-cache');
    const lines = response.body.split('\n');
    expect(lines[0]).toBe(
      `#EXTM3U url-tvg="http://lineup.test/xmltv.php?username=alice&password=${alice.password}" x-tvg-url="http://lineup.test/xmltv.php?username=alice&password=${alice.password}"`,
    );
    expect(lines).toContain(`http://lineup.test/live/alice/${alice.password}/${channelIds.news}.ts`);
    expect(lines).toContain(`#EXTINF:-1 tvg-id="" tvg-name="bare" tvg-logo="" group-title="Uncategorized",bare`);
    // Nothing an operator writes may break a line or open another entry.
    expect(lines.filter((line) => line.startsWith('#EXTINF'))).toHaveLength(4);
    expect(lines.filter((line) => line.startsWith('http'))).toHaveLength(4);
  });

  it.each([
    ['type=m3u&output=m3u8', '.m3u8', false],
    ['type=m3u_plus&output=hls', '.m3u8', true],
    ['output=mpegts', '.ts', true],
    ['type=m3u&output=ts', '.ts', false],
  ])('when get.php asks %s, then links end in %s', async (query, extension, plus) => {
    const response = await fetchFrom(`${lineup.url}/get.php?username=alice&password=${alice.password}&${query}`);
    expect(response.status).toBe(200);
    const links = response.body.split('\n').filter((line) => line.startsWith('http'));
    expect(links.every((link) => link.endsWith(extension))).toBe(true);
    expect(response.body.includes('tvg-id=')).toBe(plus);
  });

  it('when get.php is asked again with its ETag, then it answers 304; a bad type or output answers 400', async () => {
    const url = `${lineup.url}/get.php?username=alice&password=${alice.password}`;
    const first = await fetchFrom(url);
    const again = await fetchFrom(url, { headers: { 'If-None-Match': String(first.headers.etag) } });
    expect(again.status).toBe(304);
    expect((await fetchFrom(`${url}&type=xml`)).status).toBe(400);
    expect((await fetchFrom(`${url}&output=rtmp`)).status).toBe(400);
    expect((await fetchFrom(`${lineup.url}/get.php?username=alice&password=nope`)).status).toBe(401);
    expect((await fetchFrom(`${lineup.url}/get.php?username=lapsed&password=${lapsed.password}`)).status).toBe(403);
  });

  it("when the line's packages change, then its get.php ETag no longer matches, and the M3U lists what it now sees", async () => {
    const url = `${lineup.url}/get.php?username=alice&password=${alice.password}`;
    const etag = String((await fetchFrom(url)).headers.etag);
    try {
      expect((await lineup.cli(['subscriber', 'packages', 'alice', '--add', 'premium'])).code).toBe(0);
      const changed = await fetchFrom(url, { headers: { 'If-None-Match': etag } });
      expect(changed.status).toBe(200);
      expect(changed.body).toContain('Premium Movies');
    } finally {
      expect((await lineup.cli(['subscriber', 'packages', 'alice', '--remove', 'premium'])).code).toBe(0);
    }
  });

  it('when xmltv.php is fetched, then it is XMLTV with a <channel id> for every epg_channel_id the line sees, escaped', async () => {
    const response = await fetchFrom(`${lineup.url}/xmltv.php?username=alice&password=${alice.password}`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/xml/);
    expect(response.body).toMatch(/^<\?xml[^>]*\?>\n(<!DOCTYPE[^>]*>\n)?<tv[ >]/);
    const ids = [...response.body.matchAll(/<channel id="([^"]*)"/g)].map((match) => match[1]);
    expect(ids).toEqual(['news.tv', 'odd&amp;id']);
    expect(response.body).toContain('<title lang="en">Café «live»</title>');
    expect(response.body).not.toContain('Nobody');
    expect((await fetchFrom(`${lineup.url}/xmltv.php?username=alice&password=nope`)).status).toBe(401);
  });
});

describe('stream links', () => {
  const streamOf = (location: string) => decodeURIComponent(new URL(location).pathname.split('/').slice(1, -1).join('/'));

  it.each([
    ['/live/U/P/ID.ts', (password: string, id: number) => `/live/alice/${password}/${id}.ts`, '/news/mpegts'],
    ['/live/U/P/ID.m3u8', (password: string, id: number) => `/live/alice/${password}/${id}.m3u8`, '/news/index.m3u8'],
    ['legacy /U/P/ID', (password: string, id: number) => `/alice/${password}/${id}`, '/news/mpegts'],
    ['legacy /U/P/ID.ts', (password: string, id: number) => `/alice/${password}/${id}.ts`, '/news/mpegts'],
  ])('when %s is played, then it answers 302 to the origin URL with a token valid for the player', async (_, path, originPath) => {
    const response = await fetchFrom(`${lineup.url}${path(alice.password, channelIds.news!)}`);
    expect(response.status).toBe(302);
    expect(response.headers['cache-control']).toBe('no-store');
    const location = String(response.headers.location);
    expect(new URL(location).pathname).toBe(originPath);
    const check = verifySecuretokenUrl(location, { key: TEST_KEY, ip: '127.0.0.1', stream: 'news' });
    expect(check.reason).toBe('');
    expect(verifySecuretokenUrl(location, { key: TEST_KEY, ip: '127.0.0.2', stream: 'news' }).valid).toBe(false);
  });

  it('when a link is played from 127.0.0.2, then the token is bound to 127.0.0.2', async () => {
    const response = await fetchFrom(`${lineup.url}/live/alice/${alice.password}/${channelIds.news}.ts`, { localAddress: '127.0.0.2' });
    expect(verifySecuretokenUrl(String(response.headers.location), { key: TEST_KEY, ip: '127.0.0.2', stream: 'news' }).valid).toBe(true);
  });

  it('when /timeshift/U/P/DURATION/START/ID.ts is played, then it lands on the archive window, signed for the player', async () => {
    const response = await fetchFrom(`${lineup.url}/timeshift/alice/${alice.password}/90/2026-01-02:03-04/${channelIds.news}.ts`);
    expect(response.status).toBe(302);
    const location = String(response.headers.location);
    expect(new URL(location).pathname).toBe(`/news/archive-${Date.parse('2026-01-02T03:04:00Z') / 1000}-5400.ts`);
    expect(streamOf(location)).toBe('news');
    expect(verifySecuretokenUrl(location, { key: TEST_KEY, ip: '127.0.0.1', stream: 'news' }).valid).toBe(true);
  });

  it('when a timeshift is asked of a channel without catch-up, or with a bad window, then 404 and 400, never a redirect', async () => {
    expect((await fetchFrom(`${lineup.url}/timeshift/alice/${alice.password}/90/2026-01-02:03-04/${channelIds.bare}.ts`)).status).toBe(404);
    for (const window of ['0/2026-01-02:03-04', '90/2026-02-30:03-04', '90/2026-01-02T03:04', '99999/2026-01-02:03-04']) {
      const response = await fetchFrom(`${lineup.url}/timeshift/alice/${alice.password}/${window}/${channelIds.news}.ts`);
      expect(response.status, window).toBe(400);
    }
  });

  it('when a channel outside the packages, an unknown id or a wrong password is asked, then 404, 404 and 401 without a redirect', async () => {
    const outside = await fetchFrom(`${lineup.url}/live/alice/${alice.password}/${channelIds['prem/movies']}.ts`);
    expect(outside.status).toBe(404);
    expect((await fetchFrom(`${lineup.url}/live/alice/${alice.password}/999999.ts`)).status).toBe(404);
    const wrong = await fetchFrom(`${lineup.url}/live/alice/nope/${channelIds.news}.ts`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.location).toBeUndefined();
    expect((await fetchFrom(`${lineup.url}/live/bob/${bob.password}/${channelIds['prem/movies']}.ts`)).status).toBe(302);
  });

  it('when an expired line plays, then 403', async () => {
    expect((await fetchFrom(`${lineup.url}/live/lapsed/${lapsed.password}/${channelIds.news}.ts`)).status).toBe(403);
  });

  it('when all this has been served, then no log line holds a password', () => {
    const text = lineup.logs.text();
    expect(text).toContain('/live/alice/[password]/');
    for (const password of [alice.password, bob.password, lapsed.password]) expect(text).not.toContain(password);
  });
});

describe('credentials', () => {
  it('when the password is rotated, then the old one answers 401 and the new one logs in; the playlist URL still works', async () => {
    const dave = await addXcSubscriber(lineup, 'dave', '--days', '5');
    const rotated = await lineup.cli(['subscriber', 'rotate-password', 'dave']);
    expect(rotated.code).toBe(0);
    const password = rotated.stdout.trimEnd().split('\n').at(-1)!;
    expect(password).toMatch(/^[a-km-np-z2-9]{10}$/);
    expect((await playerApi(lineup, { username: 'dave', password: dave.password })).status).toBe(401);
    expect((await playerApi(lineup, { username: 'dave', password })).status).toBe(200);
    expect((await fetchFrom(onServer(lineup, dave.playlistUrl))).status).toBe(200);
  });

  it('when the operator sets the password, then it logs in; one outside the URL-safe set is refused naming --password', async () => {
    await addXcSubscriber(lineup, 'erin', '--days', '5');
    expect((await lineup.cli(['subscriber', 'rotate-password', 'erin', '--password', 'Erin.2026~x'])).code).toBe(0);
    expect((await playerApi(lineup, { username: 'erin', password: 'Erin.2026~x' })).status).toBe(200);
    const refused = await lineup.cli(['subscriber', 'rotate-password', 'erin', '--password', 'with space']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--password/);
    expect(refused.stderr).not.toContain('with space');
  });

  it('when the operator asks show --reveal, then it re-prints the working playlist URL and XC password, and plain show does not', async () => {
    const frank = await addXcSubscriber(lineup, 'frank', '--days', '5');
    const shown = await lineup.cli(['subscriber', 'show', 'frank']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).not.toContain(frank.password);
    const revealed = await lineup.cli(['subscriber', 'show', 'frank', '--reveal']);
    expect(revealed.stdout).toContain(`username frank, password ${frank.password}`);
    expect(revealed.stdout).toContain(frank.playlistUrl);
    const asJson = JSON.parse((await lineup.cli(['subscriber', 'show', 'frank', '--reveal', '--json'])).stdout);
    expect(asJson).toMatchObject({ username: 'frank', state: 'active', xc_password: frank.password, playlist_url: frank.playlistUrl });
  });

  it('when the database file is read alone, then it holds no password and no playlist key', () => {
    lineup.context.db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = readFileSync(lineup.dbPath).toString('latin1');
    for (const who of [alice, bob, lapsed]) {
      expect(bytes).not.toContain(who.password);
      expect(bytes).not.toContain(new URL(who.playlistUrl).pathname.slice('/playlist/'.length, -'.m3u'.length));
    }
  });

  it('when a subscriber predates sealed keys (only its key hash stored), then its URL still works and show --reveal says why it cannot show it', async () => {
    const key = 'Olderkey_issued-long-ago';
    const keyHash = createHash('sha256').update(key).digest('hex');
    await applySql(
      lineup,
      `INSERT INTO subscribers (username, key_hash, expires_at) VALUES ('veteran', '${keyHash}', '2040-01-01 00:00:00');`,
    );
    expect((await fetchFrom(`${lineup.url}/playlist/${key}.m3u`)).status).toBe(200);
    const revealed = await lineup.cli(['subscriber', 'show', 'veteran', '--reveal']);
    expect(revealed.code).toBe(0);
    expect(revealed.stdout).toMatch(/playlist URL: \(issued before URLs were kept sealed/);
    expect(revealed.stdout).toMatch(/password \(none yet: lineup subscriber rotate-password/);
    expect((await playerApi(lineup, { username: 'veteran', password: 'anything1' })).status).toBe(401);
    const rotated = await lineup.cli(['subscriber', 'rotate-password', 'veteran']);
    expect((await playerApi(lineup, { username: 'veteran', password: rotated.stdout.trimEnd().split('\n').at(-1)! })).status).toBe(200);
  });

  it('when a username outside the URL-safe set was inserted by SQL, then lint reports it', async () => {
    await applySql(lineup, "INSERT INTO subscribers (username, expires_at) VALUES ('mail@example.com', '2040-01-01 00:00:00');");
    const linted = await lineup.cli(['lint']);
    expect(linted.stdout + linted.stderr).toMatch(/username-not-url-safe|XC apps cannot log in with: "mail@example.com"/);
  });

  it('when a username that is a path Lineup serves was inserted by SQL, then lint reports it, since its legacy links reach that path', async () => {
    await applySql(lineup, "INSERT INTO subscribers (username, expires_at) VALUES ('timeshift', '2040-01-01 00:00:00');");
    const linted = await lineup.cli(['lint']);
    expect(linted.stdout + linted.stderr).toMatch(/XC apps cannot log in with: .*"timeshift"/);
  });
});
