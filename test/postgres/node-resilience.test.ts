import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { migratePostgresDatabase } from '../../src/db/pg/open.js';
import { type RunningNode, startPostgresNode } from '../../src/postgres-node.js';
import { generatePlaylistKey, hashPlaylistKey } from '../../src/subscribers/keys.js';
import { captureLogs, fetchFrom } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, postgresNodeEnv, type Standby, startStandby } from '../helpers/postgres.js';

const POLL_MS = 5;
const DEADLINE_MS = 500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const nodeEnv = postgresNodeEnv;

/** A database with channels and `usernames` as subscribers; their playlist paths by name. */
async function seeded(admin: pg.Client, usernames: string[]): Promise<Map<string, string>> {
  await admin.query("INSERT INTO channels (stream, name, number) VALUES ('news', 'News', 1)");
  const paths = new Map<string, string>();
  for (const username of usernames) {
    const key = generatePlaylistKey();
    await admin.query("INSERT INTO subscribers (username, key_hash, expires_at) VALUES ($1, $2, '2099-01-01 00:00:00')", [
      username,
      hashPlaylistKey(key),
    ]);
    paths.set(username, `/playlist/${key}.m3u`);
  }
  return paths;
}

async function statusOf(node: RunningNode, path: string): Promise<number> {
  return (await fetchFrom(`${node.url}${path}`)).status;
}

/** Polls until `node` answers `path` with `status`; the milliseconds it took, or a failure past 500 ms. */
async function waitForStatus(node: RunningNode, path: string, status: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const seen = await statusOf(node, path);
    const waited = performance.now() - started;
    if (seen === status) return waited;
    if (waited > DEADLINE_MS) throw new Error(`${path} still answered ${seen} after ${Math.round(waited)} ms, not ${status}`);
    await sleep(POLL_MS);
  }
}

async function feedState(node: RunningNode): Promise<string> {
  return JSON.parse((await fetchFrom(`${node.url}/healthz`)).body).feed;
}

describePostgres('a node whose change feed is cut', () => {
  let admin: pg.Client;
  let node: RunningNode;
  let paths: Map<string, string>;

  beforeAll(async () => {
    const url = await freshDatabase();
    await migratePostgresDatabase(url);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    paths = await seeded(admin, ['alice', 'bob']);
    node = await startPostgresNode(loadConfig(nodeEnv(url)), { logger: captureLogs().logger });
  });

  afterAll(async () => {
    await node?.stop();
    await admin?.end();
  });

  it('when the listen connection is terminated, then the node reads every subscriber through, says so, and listens again', async () => {
    expect(await statusOf(node, paths.get('alice')!)).toBe(200);
    expect(await feedState(node)).toBe('live');
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()");
    // Down, then back within the feed's backoff: either way, nothing remembered is trusted meanwhile.
    let sawDown = false;
    for (let tries = 0; tries < 40 && !sawDown; tries++) {
      sawDown = (await feedState(node)) === 'down';
      if (!sawDown) await sleep(POLL_MS);
    }
    expect(sawDown).toBe(true);
    // While it is down, a revocation holds for the very next request: no notice is needed.
    await admin.query("UPDATE subscribers SET enabled = 0 WHERE username = 'alice'");
    expect(await statusOf(node, paths.get('alice')!)).toBe(403);

    const started = performance.now();
    while ((await feedState(node)) !== 'live') {
      if (performance.now() - started > 10_000) throw new Error('the feed did not come back within 10 s');
      await sleep(50);
    }
    console.log(`change feed back after ${(performance.now() - started).toFixed(0)} ms`);
    // Live again, changes arrive as notices: bob, remembered, is refused once disabled.
    expect(await statusOf(node, paths.get('bob')!)).toBe(200);
    await admin.query("UPDATE subscribers SET enabled = 0 WHERE username = 'bob'");
    await waitForStatus(node, paths.get('bob')!, 403);
  });
});

describePostgres('a node whose database stops answering', () => {
  let url: string;
  let operator: pg.Client;
  let node: RunningNode;
  let paths: Map<string, string>;

  beforeAll(async () => {
    url = await freshDatabase();
    await migratePostgresDatabase(url);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    paths = await seeded(admin, ['alice']);
    await admin.end();
    // From another database: the node's own is about to refuse every connection.
    const other = new URL(url);
    other.pathname = '/postgres';
    operator = new pg.Client({ connectionString: other.toString() });
    await operator.connect();
    node = await startPostgresNode(loadConfig(nodeEnv(url)), { logger: captureLogs().logger });
  });

  afterAll(async () => {
    await node?.stop();
    await operator?.end();
  });

  it('when it refuses connections, then playlists answer 503 with Retry-After and /healthz 503; when it is back, 200 again', async () => {
    const path = paths.get('alice')!;
    expect(await statusOf(node, path)).toBe(200);
    const database = new URL(url).pathname.slice(1);
    await operator.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS false`);
    try {
      await operator.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      // Once the node notices (its feed drops): then nothing remembered is trusted, and lookups fail.
      let refused = await fetchFrom(`${node.url}${path}`);
      for (let tries = 0; tries < 200 && refused.status !== 503; tries++) {
        await sleep(POLL_MS);
        refused = await fetchFrom(`${node.url}${path}`);
      }
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('5');
      expect(refused.body).toBe('Database unavailable, try again shortly\n');
      let health = await fetchFrom(`${node.url}/healthz`);
      for (let tries = 0; tries < 60 && health.status !== 503; tries++) {
        await sleep(50);
        health = await fetchFrom(`${node.url}/healthz`);
      }
      expect(health.status).toBe(503);
      expect(JSON.parse(health.body)).toMatchObject({ status: 'unavailable', check: 'database', feed: 'down' });
    } finally {
      await operator.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS true`);
    }
    expect(await statusOf(node, path)).toBe(200);
  });
});

describePostgres('a node that reads subscribers from a standby (LINEUP_DB_REPLICA)', () => {
  let admin: pg.Client;
  let replicaAdmin: pg.Client;
  let standby: Standby;
  let node: RunningNode;
  let paths: Map<string, string>;

  beforeAll(async () => {
    const url = await freshDatabase();
    await migratePostgresDatabase(url);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    paths = await seeded(admin, ['alice', 'carol']);
    standby = await startStandby();
    const replicaUrl = standby.url(new URL(url).pathname.slice(1));
    replicaAdmin = new pg.Client({ connectionString: replicaUrl });
    await replicaAdmin.connect();
    node = await startPostgresNode(loadConfig(nodeEnv(url, { LINEUP_DB_REPLICA: replicaUrl })), { logger: captureLogs().logger });
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    await replicaAdmin?.end();
    await admin?.end();
    await standby?.stop();
  });

  it('when a subscriber is disabled and enabled again and again, then the node follows each change and never falls back to a stale answer', async () => {
    const path = paths.get('alice')!;
    const delays: number[] = [];
    for (let round = 0; round < 20; round++) {
      const enabled = round % 2;
      await admin.query("UPDATE subscribers SET enabled = $1 WHERE username = 'alice'", [enabled]);
      const expected = enabled ? 200 : 403;
      delays.push(await waitForStatus(node, path, expected));
      // A read from a standby that had not replayed the change would have been remembered: it stays.
      for (let again = 0; again < 3; again++) expect(await statusOf(node, path)).toBe(expected);
    }
    delays.sort((a, b) => a - b);
    console.log(`node on a standby followed 20 changes: median ${delays[10]!.toFixed(1)} ms, max ${delays[19]!.toFixed(1)} ms`);
  });

  it('when the standby stops replaying, then a revocation still holds on the node, read from the primary', async () => {
    const path = paths.get('carol')!;
    expect(await statusOf(node, path)).toBe(200);
    await replicaAdmin.query('SELECT pg_wal_replay_pause()');
    try {
      await admin.query("UPDATE subscribers SET enabled = 0 WHERE username = 'carol'");
      const waited = await waitForStatus(node, path, 403);
      console.log(`revocation held with the standby paused: ${waited.toFixed(0)} ms`);
      const onStandby = await replicaAdmin.query<{ enabled: number }>("SELECT enabled FROM subscribers WHERE username = 'carol'");
      expect(onStandby.rows[0]?.enabled).toBe(1);
    } finally {
      await replicaAdmin.query('SELECT pg_wal_replay_resume()');
    }
  });
});

describe('LINEUP_DB_REPLICA without PostgreSQL', () => {
  it('when LINEUP_DB is a SQLite file, then the configuration is refused in one line', () => {
    expect(() => loadConfig({ LINEUP_DB: 'data/x.db', LINEUP_DB_REPLICA: 'postgres://standby/lineup' })).toThrow(
      /^LINEUP_DB_REPLICA is set but LINEUP_DB is not a postgres:\/\/ URL/,
    );
  });
});
