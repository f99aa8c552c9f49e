import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { migratePostgresDatabase } from '../../src/db/pg/open.js';
import { PostgresSessionStore } from '../../src/db/pg/session-store.js';
import { type RunningNode, startPostgresNode } from '../../src/postgres-node.js';
import { generatePlaylistKey, hashPlaylistKey } from '../../src/subscribers/keys.js';
import {
  askFlussonic,
  backendLineupSql,
  clock,
  closeFlussonicApiStandIns,
  flussonicApiStandIn,
  linksOf,
  START,
  tokenOf,
} from '../auth/support.js';
import { captureLogs } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, postgresNodeEnv } from '../helpers/postgres.js';

/** Longer than the sweep's period (2 s): by then every node has looked at least once more. */
const ANOTHER_SWEEP_MS = 2500;

async function until(condition: () => boolean, what: string): Promise<number> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > 10_000) throw new Error(`waited 10 s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - started;
}

describePostgres('the revocation sweep on two Lineup nodes sharing one PostgreSQL database', () => {
  let url: string;
  let admin: pg.Client;
  let nodeA: RunningNode;
  let nodeB: RunningNode;
  let api: Awaited<ReturnType<typeof flussonicApiStandIn>>;
  const captured = captureLogs();

  /** Adds USERNAME and returns its playlist path. */
  async function addSubscriber(username: string, max: number): Promise<string> {
    const key = generatePlaylistKey();
    await admin.query(
      "INSERT INTO subscribers (username, key_hash, expires_at, max_connections) VALUES ($1, $2, '2099-01-01 00:00:00', $3)",
      [username, hashPlaylistKey(key), max],
    );
    return `/playlist/${key}.m3u`;
  }

  const sessionsOf = async (username: string) =>
    (
      await admin.query<{ session_key: string; end_reason: string | null; ended: boolean }>(
        `SELECT s.session_key, s.end_reason, s.ended_at IS NOT NULL AS ended
         FROM stream_sessions s JOIN subscribers u ON u.id = s.subscriber_id WHERE u.username = $1 ORDER BY s.id`,
        [username],
      )
    ).rows;

  beforeAll(async () => {
    clock.now = START;
    url = await freshDatabase();
    await migratePostgresDatabase(url);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(backendLineupSql());
    api = await flussonicApiStandIn();
    const env = postgresNodeEnv(url, { FLUSSONIC_API_URL: api.url, FLUSSONIC_API_TOKEN: 'api-bearer-token' });
    [nodeA, nodeB] = await Promise.all([
      startPostgresNode(loadConfig(env), { logger: captured.logger, clock }),
      startPostgresNode(loadConfig(env), { logger: captured.logger, clock }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await admin?.end();
    await closeFlussonicApiStandIns();
  });

  it('when psql disables a subscriber watching through both nodes, then each of its sessions is ended once and Flussonic is asked once to close it', async () => {
    const alice = await linksOf(nodeA.url + (await addSubscriber('alice', 2)));
    const bob = await linksOf(nodeB.url + (await addSubscriber('bob', 1)));
    const token = tokenOf(alice.get('news')!);
    expect((await askFlussonic(nodeA, { name: 'news', ip: '127.0.0.1', token, session_id: 'fs-42' })).status).toBe(200);
    expect((await askFlussonic(nodeB, { name: 'movies', ip: '127.0.0.1', token, session_id: 'fs/43' })).status).toBe(200);
    const bobToken = tokenOf(bob.get('news')!);
    expect((await askFlussonic(nodeB, { name: 'news', ip: '127.0.0.1', token: bobToken, session_id: 'fs-50' })).status).toBe(200);

    await admin.query("UPDATE subscribers SET enabled = 0 WHERE username = 'alice'");
    const waited = await until(() => api.calls.length >= 2, 'two DELETE calls');
    console.log(`Flussonic was asked to close both sessions ${waited.toFixed(0)} ms after the UPDATE committed`);
    // Both nodes have swept again since: nothing more is asked, nothing more is logged.
    await new Promise((resolve) => setTimeout(resolve, ANOTHER_SWEEP_MS));
    expect(api.calls.map((call) => `${call.method} ${call.url}`).sort()).toEqual([
      'DELETE /streamer/api/v3/sessions/fs%2F43',
      'DELETE /streamer/api/v3/sessions/fs-42',
    ]);
    expect(api.calls.every((call) => call.headers.authorization === 'Bearer api-bearer-token')).toBe(true);
    expect(captured.logs.text().match(/"msg":"session revoked"/g)).toHaveLength(2);
    expect(await sessionsOf('alice')).toEqual([
      { session_key: 'fs-42', end_reason: 'revoked', ended: true },
      { session_key: 'fs/43', end_reason: 'revoked', ended: true },
    ]);
    expect(await sessionsOf('bob')).toEqual([{ session_key: 'fs-50', end_reason: null, ended: false }]);
    // Either node refuses alice's next check, and lets bob go on.
    expect((await askFlussonic(nodeB, { name: 'news', ip: '127.0.0.1', token, session_id: 'fs-42' })).status).toBe(403);
    expect((await askFlussonic(nodeA, { name: 'news', ip: '127.0.0.1', token: bobToken, session_id: 'fs-50' })).status).toBe(200);
  });

  it("when psql takes a channel into a package the watcher lacks, then that session is ended once and the subscriber's other one goes on", async () => {
    const carol = await linksOf(nodeA.url + (await addSubscriber('carol', 2)));
    const token = tokenOf(carol.get('news')!);
    expect((await askFlussonic(nodeA, { name: 'music', ip: '127.0.0.1', token, session_id: 'fs-60' })).status).toBe(200);
    expect((await askFlussonic(nodeB, { name: 'kids', ip: '127.0.0.1', token, session_id: 'fs-61' })).status).toBe(200);
    const before = api.calls.length;
    // A lineup change, not a subscriber's: every node looks at everyone's sessions.
    await admin.query('INSERT INTO package_channels (package_id, channel_id) VALUES (1, 5)');
    await until(() => api.calls.length > before, 'a DELETE call');
    await new Promise((resolve) => setTimeout(resolve, ANOTHER_SWEEP_MS));
    expect(api.calls.slice(before).map((call) => call.url)).toEqual(['/streamer/api/v3/sessions/fs-60']);
    expect(await sessionsOf('carol')).toEqual([
      { session_key: 'fs-60', end_reason: 'revoked', ended: true },
      { session_key: 'fs-61', end_reason: null, ended: false },
    ]);
  });

  it('when two nodes end the same sessions at the same instant, then each session is reported ended by exactly one of them', async () => {
    const { rows } = await admin.query<{ id: string }>(
      `INSERT INTO stream_sessions (dialect, session_key, subscriber_id, ip, stream, key_fingerprint, started_at, last_seen)
       SELECT 'flussonic', 'race-' || n, 1, '127.0.0.1', 'news', 'f', $1, $1 FROM generate_series(1, 200) n RETURNING id`,
      [START],
    );
    const ids = rows.map((row) => Number(row.id));
    const pools = [new pg.Pool({ connectionString: url, max: 4 }), new pg.Pool({ connectionString: url, max: 4 })];
    try {
      const [a, b] = pools.map((pool) => new PostgresSessionStore(pool)) as [PostgresSessionStore, PostgresSessionStore];
      const ended = await Promise.all([a.end(ids, 'revoked', START), b.end(ids, 'revoked', START), a.end(ids, 'idle', START)]);
      // Every id once across the three: none ended twice, none missed.
      expect(ended.flat().sort((x, y) => x - y)).toEqual(ids);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });
});
