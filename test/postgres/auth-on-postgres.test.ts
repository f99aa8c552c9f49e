import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { migratePostgresDatabase } from '../../src/db/pg/open.js';
import { type RunningNode, startPostgresNode } from '../../src/postgres-node.js';
import { generatePlaylistKey, hashPlaylistKey } from '../../src/subscribers/keys.js';
import { askNginx, backendLineupSql, clock, linksOf, requestUri, START } from '../auth/support.js';
import { lineupProcess } from '../helpers/command-line.js';
import { captureLogs } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, postgresNodeEnv } from '../helpers/postgres.js';

/** Two viewers' addresses; the links are signed for the one that fetched them. */
const HOME = '127.0.0.1';
const FRIEND = '127.0.0.2';
/** How often a node is asked while waiting for it to see a change, and how long it may take. */
const POLL_MS = 5;
const DEADLINE_MS = 500;
const ROUNDS = 30;

const nodeEnv = (url: string) => postgresNodeEnv(url);

/** Asks `node` for `uri` from `ip` every 5 ms until it answers `status`; the milliseconds it took, or a failure past 500 ms. */
async function waitForStatus(node: RunningNode, uri: string, ip: string, status: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const answer = await askNginx(node, uri, ip);
    const waited = performance.now() - started;
    if (answer.status === status) return waited;
    if (waited > DEADLINE_MS) throw new Error(`${uri} still answered ${answer.status} after ${Math.round(waited)} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

describePostgres('the auth backend on two Lineup nodes sharing one PostgreSQL database', () => {
  let url: string;
  let admin: pg.Client;
  let nodeA: RunningNode;
  let nodeB: RunningNode;
  const captured = captureLogs();
  const ids = new Map<string, number>();

  /** Adds USERNAME (max_connections `max`) and returns its playlist path. */
  async function addSubscriber(username: string, max = 1): Promise<string> {
    const key = generatePlaylistKey();
    const { rows } = await admin.query<{ id: string }>(
      "INSERT INTO subscribers (username, key_hash, expires_at, max_connections) VALUES ($1, $2, '2099-01-01 00:00:00', $3) RETURNING id",
      [username, hashPlaylistKey(key), max],
    );
    ids.set(username, Number(rows[0]!.id));
    return `/playlist/${key}.m3u`;
  }

  /** The backend links of `path`'s playlist, fetched from `node` by `ip` (so signed for it), by stream. */
  const linksFrom = async (node: RunningNode, path: string, ip: string) => {
    const links = await linksOf(node.url + path, ip);
    return (stream: string) => requestUri(links.get(stream)!);
  };

  const sessionsOf = async (username: string) =>
    (
      await admin.query<{ ip: string; stream: string; end_reason: string | null }>(
        'SELECT ip, stream, end_reason FROM stream_sessions WHERE subscriber_id = $1 ORDER BY id',
        [ids.get(username)],
      )
    ).rows;

  beforeAll(async () => {
    clock.now = START;
    url = await freshDatabase();
    await migratePostgresDatabase(url);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(backendLineupSql());
    [nodeA, nodeB] = await Promise.all([
      startPostgresNode(loadConfig(nodeEnv(url)), { logger: captured.logger, clock }),
      startPostgresNode(loadConfig(nodeEnv(url)), { logger: captured.logger, clock }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await admin?.end();
  });

  it('when a viewer with a valid token is checked by node A and then by node B, then both allow it, as one session', async () => {
    const link = await linksFrom(nodeA, await addSubscriber('alice'), HOME);
    expect((await askNginx(nodeA, link('news'), HOME)).status).toBe(204);
    expect((await askNginx(nodeB, link('news'), HOME)).status).toBe(204);
    expect((await askNginx(nodeB, link('news').replace('index.m3u8', 'seg-1.ts'), HOME)).status).toBe(204);
    expect(await sessionsOf('alice')).toEqual([{ ip: HOME, stream: 'news', end_reason: null }]);
  });

  it('when a subscriber with 1 connection watches from one IP through node A, then a second IP is refused through node B, and zapping through node B replaces the session', async () => {
    const path = await addSubscriber('bob');
    const home = await linksFrom(nodeA, path, HOME);
    const friend = await linksFrom(nodeB, path, FRIEND);
    expect((await askNginx(nodeA, home('news'), HOME)).status).toBe(204);
    clock.now += 1;
    expect((await askNginx(nodeB, friend('news'), FRIEND)).status).toBe(403);
    expect(captured.logs.text()).toMatch(new RegExp(`"subscriber":${ids.get('bob')},"reason":"limit"`));
    clock.now += 5;
    // Zapping from the same IP, through the other node: the new stream takes the old one's place.
    expect((await askNginx(nodeB, home('live/sport'), HOME)).status).toBe(204);
    expect(await sessionsOf('bob')).toEqual([
      { ip: HOME, stream: 'news', end_reason: 'replaced' },
      { ip: HOME, stream: 'live/sport', end_reason: null },
    ]);
    // Node A, which admitted the replaced stream, refuses its next checks once it has heard.
    const waited = await waitForStatus(nodeA, home('news'), HOME, 403);
    console.log(`node A refused the replaced stream ${waited.toFixed(1)} ms after node B replaced it`);
    expect((await askNginx(nodeA, home('live/sport'), HOME)).status).toBe(204);
    expect((await askNginx(nodeB, friend('news'), FRIEND)).status).toBe(403);
  });

  it('when two nodes admit two IPs of one subscriber at the same instant, then never both are allowed', async () => {
    const rounds: { home: string; friend: string }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const path = await addSubscriber(`race${round}`);
      rounds.push({ home: (await linksFrom(nodeA, path, HOME))('news'), friend: (await linksFrom(nodeB, path, FRIEND))('news') });
    }
    const winners = { A: 0, B: 0 };
    for (const [round, { home, friend }] of rounds.entries()) {
      const [a, b] = await Promise.all([askNginx(nodeA, home, HOME), askNginx(nodeB, friend, FRIEND)]);
      expect([a.status, b.status].sort(), `round ${round}`).toEqual([204, 403]);
      winners[a.status === 204 ? 'A' : 'B']++;
      const open = await admin.query('SELECT 1 FROM stream_sessions WHERE subscriber_id = $1 AND ended_at IS NULL', [
        ids.get(`race${round}`),
      ]);
      expect(open.rowCount, `round ${round}`).toBe(1);
    }
    console.log(`${ROUNDS} rounds at once: node A won ${winners.A}, node B ${winners.B}, never both`);
  });

  it('when psql disables a subscriber, then the other node refuses its stream within 500 ms', async () => {
    const link = await linksFrom(nodeA, await addSubscriber('carol'), HOME);
    expect((await askNginx(nodeA, link('news'), HOME)).status).toBe(204);
    // Node B has checked carol once, so she is remembered there.
    expect((await askNginx(nodeB, link('news'), HOME)).status).toBe(204);
    await admin.query("UPDATE subscribers SET enabled = 0 WHERE username = 'carol'");
    const waited = await waitForStatus(nodeB, link('news'), HOME, 403);
    console.log(`node B refused carol's stream ${waited.toFixed(1)} ms after the UPDATE committed`);
    expect(captured.logs.text()).toMatch(new RegExp(`"subscriber":${ids.get('carol')},"reason":"disabled"`));
  });

  it('when sessions are open, then the metrics count them from PostgreSQL and subscriber show lists their addresses', async () => {
    const { rows } = await admin.query<{ sessions: number }>(
      'SELECT count(*)::int AS sessions FROM stream_sessions WHERE ended_at IS NULL',
    );
    for (const node of [nodeA, nodeB]) {
      const gauge = await node.metrics.registry.getSingleMetric('lineup_stream_sessions')!.get();
      expect(gauge.values[0]?.value).toBe(rows[0]!.sessions);
    }
    expect(rows[0]!.sessions).toBeGreaterThan(ROUNDS);
    const shown = await lineupProcess(['subscriber', 'show', 'bob'], nodeEnv(url));
    expect(shown.stderr).toBe('');
    expect(shown.stdout).toMatch(/streamed from, last 24 h \(auth backend\): \n.*\n127\.0\.0\.1 +\S+ \S+ +\S+ \S+ +2\n/);
  });
});
