import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { runPruneOnce } from '../../src/jobs/prune-schedule.js';
import { pruneLapsed } from '../../src/subscribers/prune.js';
import { addSubscriber, applySql } from '../core/support.js';
import { captureLogs, fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';

const METRICS_TOKEN = 'metrics-token-0123456789';

/** The value of one sample line, e.g. `lineup_playlist_requests_total{outcome="200"}`. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

/** The admin listener's URL, from the line the server logs when it starts one. */
function adminUrlOf(lineup: TestLineup): string {
  const line = lineup.logs.lines.map((text) => JSON.parse(text)).find((entry) => entry.msg?.startsWith('admin listener'));
  expect(line, 'no "admin listener" log line').toBeDefined();
  return line.url as string;
}

/** Sets a subscriber's expiry straight in the database, as an operator's SQL would. */
function expire(lineup: TestLineup, username: string, expiresAt: string): void {
  const db = new Database(lineup.dbPath);
  db.prepare('UPDATE subscribers SET expires_at = ? WHERE username = ?').run(expiresAt, username);
  db.close();
}

const yesterday = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 19).replace('T', ' ');

describe('/metrics with METRICS_TOKEN', () => {
  let lineup: TestLineup;
  let second: TestLineup;
  /** alice's playlist key, for her /play links. */
  let aliceKey = '';
  const scrape = async () => {
    const response = await fetchFrom(`${lineup.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    return response.body;
  };
  const keyOf = (url: string) => /\/playlist\/([^/.]+)\.m3u/.exec(url)![1]!;

  beforeAll(async () => {
    lineup = await startTestLineup({ env: { METRICS_TOKEN, GUESS_LIMIT: '2' } });
    // A second server in the same process: each has its own registry, so neither throws nor mixes counts.
    second = await startTestLineup({ env: { METRICS_TOKEN } });
    await applySql(lineup, "INSERT INTO channels (id, stream, name) VALUES (1, 'news', 'News');");
    const alice = await addSubscriber(lineup, 'alice');
    aliceKey = keyOf(alice);
    const bob = await addSubscriber(lineup, 'bob');
    await lineup.cli(['subscriber', 'disable', 'bob']);
    const carol = await addSubscriber(lineup, 'carol');
    expire(lineup, 'carol', '2000-01-01 00:00:00');
    for (let i = 0; i < 3; i++) expect((await fetchFrom(alice)).status).toBe(200);
    expect((await fetchFrom(bob)).status).toBe(403);
    expect((await fetchFrom(carol)).status).toBe(403);
    for (let i = 0; i < 3; i++)
      expect((await fetchFrom(`${lineup.url}/playlist/nope.m3u`, { localAddress: '127.0.0.2' })).status).toBe(404);
    expect((await fetchFrom(`${lineup.url}/playlist/nope.m3u`, { localAddress: '127.0.0.2' })).status).toBe(429);
    runPruneOnce(() => pruneLapsed(lineup.context.subscribers, lineup.context.clock, 7), captureLogs().logger, lineup.metrics);
  });
  afterAll(async () => {
    await lineup.close();
    await second.close();
  });

  it('when a token is configured, then /metrics without it or with a wrong one is 401', async () => {
    expect((await fetchFrom(`${lineup.url}/metrics`)).status).toBe(401);
    const wrong = await fetchFrom(`${lineup.url}/metrics`, { headers: { Authorization: 'Bearer wrong' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body).not.toContain(METRICS_TOKEN);
  });

  it('when requests were answered, then playlist outcomes are counted by status', async () => {
    const text = await scrape();
    expect(sample(text, 'lineup_playlist_requests_total{outcome="200"}')).toBe(3);
    expect(sample(text, 'lineup_playlist_requests_total{outcome="403"}')).toBe(2);
    expect(sample(text, 'lineup_playlist_requests_total{outcome="404"}')).toBe(3);
    expect(sample(text, 'lineup_playlist_requests_total{outcome="429"}')).toBe(1);
  });

  it('when keys were guessed, then lookup failures and rate-limited requests are counted', async () => {
    const text = await scrape();
    expect(sample(text, 'lineup_playlist_lookup_failures_total')).toBe(3);
    expect(sample(text, 'lineup_rate_limited_requests_total')).toBe(1);
  });

  it('when playlists were rendered, then the render histogram holds one observation per 200', async () => {
    expect(sample(await scrape(), 'lineup_playlist_render_seconds_count')).toBe(3);
  });

  it('when the prune job deleted a lapsed subscriber, then the deletion is counted', async () => {
    expect(sample(await scrape(), 'lineup_prune_deleted_subscribers_total')).toBe(1);
  });

  it('when scraped, then default process metrics are there too', async () => {
    expect(await scrape()).toContain('process_resident_memory_bytes');
  });

  it('when the other server in this process is scraped, then it counts only its own requests', async () => {
    const response = await fetchFrom(`${second.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    expect(sample(response.body, 'lineup_playlist_requests_total{outcome="200"}')).toBe(0);
  });

  // Issue 15, Why 11: /play redirects were not counted in any metric.
  it('when /play links are followed, redirected and refused, then each outcome is counted by status', async () => {
    const play = (key: string, file = '1.m3u8', localAddress?: string) =>
      fetchFrom(`${lineup.url}/play/${key}/${file}`, localAddress ? { localAddress } : {});
    const before = await scrape();
    const count = (text: string, outcome: string) => sample(text, `lineup_play_requests_total{outcome="${outcome}"}`);

    expect((await play(aliceKey)).status).toBe(302);
    expect((await play(aliceKey, '1.ts')).status).toBe(302);
    expect((await play(aliceKey, '999.m3u8')).status).toBe(404); // a channel she does not have
    await lineup.cli(['subscriber', 'disable', 'alice']);
    expect((await play(aliceKey)).status).toBe(403);
    await lineup.cli(['subscriber', 'enable', 'alice']);
    const dave = keyOf(await addSubscriber(lineup, 'dave'));
    expect((await lineup.cli(['subscriber', 'remove', 'dave'])).code).toBe(0);
    expect((await play(dave)).status).toBe(410);
    // A scanner on /play: past GUESS_LIMIT (2) unknown keys, its address gets 429, even for a valid key.
    for (let i = 0; i < 3; i++) expect((await play('AAAAAAAAAAAAAAAAAAAAAAAA', '1.m3u8', '127.0.0.3')).status).toBe(404);
    expect((await play(aliceKey, '1.m3u8', '127.0.0.3')).status).toBe(429);

    const after = await scrape();
    expect(count(after, '302') - count(before, '302')).toBe(2);
    expect(count(after, '403') - count(before, '403')).toBe(1);
    expect(count(after, '404') - count(before, '404')).toBe(4);
    expect(count(after, '410') - count(before, '410')).toBe(1);
    expect(count(after, '429') - count(before, '429')).toBe(1);
    // Playlists are counted apart: no /play request shows up there.
    expect(sample(after, 'lineup_playlist_requests_total{outcome="302"}')).toBe(0);
  });
});

// Issue 15, Why 11: there was no gauge of active, expired and disabled subscribers.
describe('lineup_subscribers{state}', () => {
  let lineup: TestLineup;
  const scrape = async () => {
    const response = await fetchFrom(`${lineup.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    return response.body;
  };
  const states = (text: string) => ({
    active: sample(text, 'lineup_subscribers{state="active"}'),
    expired: sample(text, 'lineup_subscribers{state="expired"}'),
    disabled: sample(text, 'lineup_subscribers{state="disabled"}'),
  });

  beforeAll(async () => {
    lineup = await startTestLineup({ env: { METRICS_TOKEN } });
  });
  afterAll(() => lineup.close());

  it('when no subscriber exists yet, then every state is reported, at 0', async () => {
    const text = await scrape();
    expect(text).toContain('lineup_subscribers{state="active"} 0');
    expect(text).toContain('lineup_subscribers{state="expired"} 0');
    expect(text).toContain('lineup_subscribers{state="disabled"} 0');
  });

  it('when subscribers are added, disabled and lapse through the CLI and SQL, then the next scrape counts them by state', async () => {
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) await addSubscriber(lineup, name);
    await lineup.cli(['subscriber', 'disable', 'bob']);
    expire(lineup, 'carol', yesterday());
    // Disabled and lapsed: disabled wins, as the playlist's 403 says.
    await lineup.cli(['subscriber', 'disable', 'dave']);
    expire(lineup, 'dave', yesterday());
    expect(states(await scrape())).toEqual({ active: 2, expired: 1, disabled: 2 });

    await lineup.cli(['subscriber', 'enable', 'bob']);
    await lineup.cli(['subscriber', 'renew', 'carol', '--days', '30']);
    expect(states(await scrape())).toEqual({ active: 4, expired: 0, disabled: 1 });
  });
});

// Issue 15, Why 11: /metrics was open to the world by default.
describe('/metrics without METRICS_TOKEN', () => {
  let lineup: TestLineup;
  beforeAll(async () => {
    lineup = await startTestLineup({ env: { ADMIN_PORT: '0' } });
    await addSubscriber(lineup, 'alice');
  });
  afterAll(() => lineup.close());

  it('when the public port is asked for /metrics, then it is 404, with a token or without', async () => {
    const open = await fetchFrom(`${lineup.url}/metrics`);
    expect(open.status).toBe(404);
    expect(open.body).not.toContain('lineup_');
    expect((await fetchFrom(`${lineup.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(404);
  });

  it('when ADMIN_PORT is set, then the admin listener serves /metrics without a token, on loopback by default', async () => {
    const admin = adminUrlOf(lineup);
    expect(new URL(admin).hostname).toBe('127.0.0.1');
    expect(new URL(admin).port).not.toBe(new URL(lineup.url).port);
    const response = await fetchFrom(`${admin}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(sample(response.body, 'lineup_subscribers{state="active"}')).toBe(1);
  });

  it('when the admin listener is asked for anything public, then it is 404: playlists and health stay on the public port', async () => {
    const admin = adminUrlOf(lineup);
    for (const path of ['/playlist/AAAAAAAAAAAAAAAAAAAAAAAA.m3u', '/play/AAAAAAAAAAAAAAAAAAAAAAAA/1.m3u8', '/healthz', '/epg.xml']) {
      expect((await fetchFrom(`${admin}${path}`)).status, path).toBe(404);
    }
  });

  it('when ADMIN_HOST is set without ADMIN_PORT, then the start fails naming both', () => {
    expect(() => loadConfig({ ADMIN_HOST: '10.0.0.5' })).toThrow(/^ADMIN_HOST is set but ADMIN_PORT is not/);
  });
});
