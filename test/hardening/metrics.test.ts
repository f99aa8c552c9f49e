import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPruneOnce } from '../../src/jobs/prune-schedule.js';
import { pruneLapsed } from '../../src/subscribers/prune.js';
import { addSubscriber } from '../core/support.js';
import { captureLogs, fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';

const METRICS_TOKEN = 'metrics-token-0123456789';

/** The value of one sample line, e.g. `lineup_playlist_requests_total{outcome="200"}`. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

describe('/metrics', () => {
  let lineup: TestLineup;
  let second: TestLineup;
  const scrape = async () => {
    const response = await fetchFrom(`${lineup.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    return response.body;
  };

  beforeAll(async () => {
    lineup = await startTestLineup({ env: { METRICS_TOKEN, GUESS_LIMIT: '2' } });
    // A second server in the same process: each has its own registry, so neither throws nor mixes counts.
    second = await startTestLineup();
    const alice = await addSubscriber(lineup, 'alice');
    const bob = await addSubscriber(lineup, 'bob');
    await lineup.cli(['subscriber', 'disable', 'bob']);
    const carol = await addSubscriber(lineup, 'carol');
    const db = new Database(lineup.dbPath);
    db.prepare("UPDATE subscribers SET expires_at = '2000-01-01 00:00:00' WHERE username = ?").run('carol');
    db.close();
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

  it('when no token is configured, then /metrics is open and counts only its own server', async () => {
    const response = await fetchFrom(`${second.url}/metrics`);
    expect(response.status).toBe(200);
    expect(sample(response.body, 'lineup_playlist_requests_total{outcome="200"}')).toBe(0);
  });
});
