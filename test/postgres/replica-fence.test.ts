import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChangeFeed } from '../../src/db/pg/change-feed.js';
import { openPostgresPool } from '../../src/db/pg/connection.js';
import { migratePostgres } from '../../src/db/pg/migrations.js';
import { ReplicaFence } from '../../src/db/pg/replica-fence.js';
import type { ChangedSubscribers } from '../../src/subscribers/remembered-access.js';
import { captureLogs } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, type Standby, startStandby } from '../helpers/postgres.js';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Drains `follower` until `id` is among the changes (every 5 ms, up to 2 s). */
async function notified(follower: ChangedSubscribers, id: number): Promise<void> {
  for (let waited = 0; waited < 2000; waited += 5) {
    if (follower.changed()?.includes(id)) return;
    await sleep(5);
  }
  throw new Error(`subscriber ${id} was not notified`);
}

describePostgres('the replica fence', () => {
  let primary: pg.Pool;
  let replica: pg.Pool;
  let standby: Standby;
  let feed: ChangeFeed;
  let fence: ReplicaFence;
  let id: number;
  const { logger } = captureLogs();

  const enabledOn = async (pool: pg.Pool) =>
    (await pool.query<{ enabled: number }>('SELECT enabled FROM subscribers WHERE id = $1', [id])).rows[0]?.enabled;

  beforeAll(async () => {
    const url = await freshDatabase();
    primary = openPostgresPool(url);
    await migratePostgres(primary);
    id = (
      await primary.query<{ id: number }>(
        "INSERT INTO subscribers (username, expires_at) VALUES ('alice', '2030-01-01 00:00:00') RETURNING id",
      )
    ).rows[0]!.id;
    standby = await startStandby();
    replica = openPostgresPool(standby.url(new URL(url).pathname.slice(1)));
    feed = new ChangeFeed({ url, pool: primary, logger });
    await feed.start();
    fence = new ReplicaFence(feed, replica, primary);
  }, 60_000);
  afterAll(async () => {
    await feed?.stop();
    await replica?.end();
    await primary?.end();
    await standby?.stop();
  });

  it('when each revocation is read right after its notification, then the fenced read never shows the subscriber still enabled', async () => {
    const follower = feed.follower();
    const chosen = { standby: 0, primary: 0 };
    let unfencedStale = 0;
    for (let round = 0; round < 50; round++) {
      const enabled = round % 2;
      await primary.query('UPDATE subscribers SET enabled = $2 WHERE id = $1', [id, enabled]);
      await notified(follower, id);
      // What a read without the fence would have seen (kept as a diagnostic: it depends on timing).
      if ((await enabledOn(replica)) !== enabled) unfencedStale++;
      const pool = await fence.readPool();
      chosen[pool === replica ? 'standby' : 'primary']++;
      expect(await enabledOn(pool)).toBe(enabled);
    }
    console.log(
      `replica fence, 50 changes: read from the standby ${chosen.standby}, from the primary ${chosen.primary}; an unfenced standby read was stale ${unfencedStale} times`,
    );
    expect(chosen.standby).toBeGreaterThan(0);
  });

  it('when the standby stops replaying, then reads wait for it and go to the primary; when it resumes, they go back to it', async () => {
    const follower = feed.follower();
    const before = await enabledOn(primary);
    await replica.query('SELECT pg_wal_replay_pause()');
    try {
      await primary.query('UPDATE subscribers SET enabled = 1 - enabled WHERE id = $1', [id]);
      await notified(follower, id);
      const started = performance.now();
      expect(await fence.readPool()).toBe(primary);
      console.log(`replica fence: gave up on the paused standby after ${(performance.now() - started).toFixed(0)} ms`);
      expect(await enabledOn(replica)).toBe(before);
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()');
    }
    let pool = await fence.readPool();
    for (let tries = 0; pool !== replica && tries < 20; tries++) pool = await fence.readPool();
    expect(pool).toBe(replica);
    expect(await enabledOn(replica)).toBe(1 - (before ?? 0));
  });

  it('when the feed is not listening, then reads go to the primary, since nothing says what the standby lacks', async () => {
    const idle = new ChangeFeed({ url: 'postgres://127.0.0.1:1/none', pool: primary, logger });
    expect(await new ReplicaFence(idle, replica, primary).readPool()).toBe(primary);
  });
});
