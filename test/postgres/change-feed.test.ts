import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChangeFeed } from '../../src/db/pg/change-feed.js';
import { openPostgresPool } from '../../src/db/pg/connection.js';
import { migratePostgres } from '../../src/db/pg/migrations.js';
import { changeFeedMetrics, createMetrics } from '../../src/metrics.js';
import type { ChangedSubscribers } from '../../src/subscribers/remembered-access.js';
import { captureLogs } from '../helpers/lineup.js';
import { describePostgres, freshDatabase } from '../helpers/postgres.js';

const ROOT = resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Polls `check` every `every` ms (0: every turn of the event loop) until it holds; the milliseconds that took. */
async function within(ms: number, check: () => boolean, what: string, every = 5): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (check()) return performance.now() - start;
    if (performance.now() - start > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await (every === 0 ? new Promise((done) => setImmediate(done)) : sleep(every));
  }
}

/** Drains a follower until `id` shows up: what it saw, in order. */
async function idsUntil(follower: ChangedSubscribers, id: number): Promise<(readonly number[] | undefined)[]> {
  const seen: (readonly number[] | undefined)[] = [];
  await within(
    2000,
    () => {
      const changed = follower.changed();
      if (changed === undefined || changed.length > 0) seen.push(changed);
      return changed?.includes(id) === true;
    },
    `subscriber ${id} notified`,
  );
  return seen;
}

/**
 * A TCP relay to the server whose open connections can be frozen: bytes stop flowing both ways
 * and nothing is closed, as when a failover leaves a socket half open. New connections flow.
 */
async function relayTo(url: string) {
  const target = new URL(url);
  const sockets: Socket[][] = [];
  const server = createServer((inbound) => {
    const outbound = connect(Number(target.port), target.hostname);
    for (const socket of [inbound, outbound]) socket.on('error', () => {});
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    sockets.push([inbound, outbound]);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const relayed = new URL(url);
  relayed.port = String((server.address() as AddressInfo).port);
  return {
    url: relayed.toString(),
    freeze() {
      for (const [inbound, outbound] of sockets) {
        inbound!.unpipe(outbound!);
        outbound!.unpipe(inbound!);
        inbound!.pause();
        outbound!.pause();
      }
    },
    close() {
      for (const socket of sockets.flat()) socket.destroy();
      server.close();
    },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describePostgres('the PostgreSQL change feed', () => {
  let url: string;
  /** The feed connects as a role of its own, so that a test can stop it logging in again. */
  let feedUrl: string;
  let role: string;
  let pool: pg.Pool;
  let feed: ChangeFeed;
  const { logger, logs } = captureLogs();
  const metrics = createMetrics();

  const one = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await pool.query<T>(sql, params)).rows[0]!;
  const subscriber = async (username: string) =>
    (
      await one<{ id: number }>("INSERT INTO subscribers (username, expires_at) VALUES ($1, '2030-01-01 00:00:00') RETURNING id", [
        username,
      ])
    ).id;
  const lineupVersion = async () => (await one<{ version: string }>('SELECT version::text AS version FROM lineup_changes')).version;
  /**
   * Changes the lineup and waits until the feed has the new version: notifications arrive in
   * commit order, so every one committed before has been handled.
   */
  const lineupMoved = async () => {
    await pool.query("INSERT INTO packages (name) VALUES ('p' || gen_random_uuid())");
    const version = await lineupVersion();
    await within(2000, () => feed.lineupVersion() === version, `lineup version ${version}`);
  };
  /** Ends the feed's listen connection as an operator (or a failover) would. */
  const terminateListener = () =>
    pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()");
  const metric = async (name: string) =>
    (await metrics.registry.getSingleMetricAsString(name)).split('\n').filter((line) => !line.startsWith('#'));

  beforeAll(async () => {
    url = await freshDatabase();
    pool = openPostgresPool(url);
    await migratePostgres(pool);
    role = `feed_${randomBytes(4).toString('hex')}`;
    await pool.query(`CREATE ROLE ${role} LOGIN`);
    await pool.query(`GRANT SELECT ON lineup_changes TO ${role}`);
    const parsed = new URL(url);
    parsed.username = role;
    parsed.password = 'feed-secret-word';
    feedUrl = parsed.toString();
    feed = new ChangeFeed({ url: feedUrl, pool, logger, metrics: changeFeedMetrics(metrics) });
    await feed.start();
  });
  afterAll(async () => {
    await feed?.stop();
    await pool?.query(`DROP OWNED BY ${role}`).catch(() => {});
    await pool?.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
    await pool?.end();
  });

  it('when started, then it is live, knows the lineup version and reports itself up', async () => {
    expect(feed.live).toBe(true);
    expect(feed.lineupVersion()).toBe(await lineupVersion());
    expect(await metric('lineup_change_feed_up')).toEqual(['lineup_change_feed_up 1']);
  });

  it('when another connection updates a subscriber, then a follower is given its id within a few milliseconds', async () => {
    const follower = feed.follower();
    expect(follower.changed()).toEqual([]);
    const id = await subscriber('alice');
    expect(await idsUntil(follower, id)).toEqual([[id]]);
    const counted = async () =>
      Number((await metric('lineup_change_notifications_total')).find((line) => line.includes('subscribers'))?.split(' ')[1]);
    const before = await counted();
    /** Twenty enable/disable flips, each waited for: the delays from the UPDATE sent and from its commit returned. */
    const flips = async (every: number) => {
      const fromSent: number[] = [];
      const fromCommit: number[] = [];
      for (let round = 0; round < 20; round++) {
        const sent = performance.now();
        await pool.query('UPDATE subscribers SET enabled = $2 WHERE id = $1', [id, round % 2]);
        const committed = performance.now();
        let changed: readonly number[] | undefined;
        const check = () => {
          changed = follower.changed();
          return changed === undefined || changed.length > 0;
        };
        await within(500, check, 'the update notified', every);
        const seen = performance.now();
        expect(changed).toEqual([id]);
        fromSent.push(seen - sent);
        fromCommit.push(seen - committed);
      }
      const ms = (values: number[]) => `median ${median(values).toFixed(2)} ms, max ${Math.max(...values).toFixed(2)} ms`;
      return `from UPDATE sent ${ms(fromSent)}; from commit returned ${ms(fromCommit)}`;
    };
    console.log(`change feed, 20 updates, polled every 5 ms: ${await flips(5)}`);
    console.log(`change feed, 20 updates, polled every event-loop turn: ${await flips(0)}`);
    expect((await counted()) - before).toBe(40);
  });

  it('when one statement changes 150 subscribers, then followers are told to forget everyone', async () => {
    const follower = feed.follower();
    await pool.query(
      "INSERT INTO subscribers (username, expires_at) SELECT 'bulk' || g, '2030-01-01 00:00:00' FROM generate_series(1, 150) g",
    );
    await within(2000, () => follower.changed() === undefined, 'forget everyone');
    const marker = await subscriber('after-bulk');
    expect(await idsUntil(follower, marker)).toEqual([[marker]]);
  });

  it('when a follower has not drained more than a few thousand ids, then it is told to forget everyone instead', async () => {
    const follower = feed.follower();
    // Notified as the triggers would for 60 statements of 100 subscribers each.
    await pool.query(
      `SELECT pg_notify('lineup_changes', 'S 1 ' || (SELECT string_agg((batch * 100 + g)::text, ',') FROM generate_series(1, 100) g))
         FROM generate_series(0, 59) batch`,
    );
    await lineupMoved();
    expect(follower.changed()).toBeUndefined();
    expect(follower.changed()).toEqual([]);
  });

  it('when a payload on the channel cannot be read, then followers forget everyone rather than guess', async () => {
    const follower = feed.follower();
    await pool.query("SELECT pg_notify('lineup_changes', 'S 5 some-ids')");
    await lineupMoved();
    expect(follower.changed()).toBeUndefined();
    expect(follower.changed()).toEqual([]);
  });

  it('when two followers drain the same change, then each sees the ids once', async () => {
    const [a, b] = [await subscriber('bob'), await subscriber('carol')];
    await lineupMoved();
    const [first, second] = [feed.follower(), feed.follower()];
    await pool.query('UPDATE subscribers SET max_connections = 3 WHERE id IN ($1, $2)', [a, b]);
    await lineupMoved();
    expect([...(first.changed() ?? [])].sort()).toEqual([a, b].sort());
    // The first follower's call left the second's pending set alone.
    expect([...(second.changed() ?? [])].sort()).toEqual([a, b].sort());
    expect(second.changed()).toEqual([]);
    expect(first.changed()).toEqual([]);
  });

  it('when a transaction rolls back, then nothing is notified', async () => {
    const follower = feed.follower();
    const [rolledBack, marker] = [await subscriber('dave'), await subscriber('erin')];
    await within(2000, () => follower.changed()?.includes(marker) === true, 'the inserts notified');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('UPDATE subscribers SET enabled = 0 WHERE id = $1', [rolledBack]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    // Notifications come in commit order: once the later change is here, the rolled-back one never will be.
    await pool.query('UPDATE subscribers SET enabled = 0 WHERE id = $1', [marker]);
    expect(await idsUntil(follower, marker)).toEqual([[marker]]);
  });

  it('when a channel is added, then the lineup version moves to the committed one and listeners hear of it', async () => {
    const heard: string[] = [];
    const unlisten = feed.onLineupChange((version) => heard.push(version));
    const follower = feed.follower();
    try {
      await pool.query("INSERT INTO channels (stream, name) VALUES ('news', 'News')");
      const version = await lineupVersion();
      await within(2000, () => feed.lineupVersion() === version, `lineup version ${version}`);
      // A new category moves it too, by a statement of its own.
      expect(heard.at(-1)).toBe(version);
      expect(heard.map(Number)).toEqual([...heard.map(Number)].sort((a, b) => a - b));
      expect(follower.changed()).toEqual([]);
    } finally {
      unlisten();
    }
  });

  it('when the listen connection is terminated, then the feed is down, caches read through, and once back a change arrives as ids again', async () => {
    const follower = feed.follower();
    await terminateListener();
    await within(2000, () => !feed.live, 'the feed down');
    expect(follower.changed()).toBeUndefined();
    await within(5000, () => feed.live, 'the feed back');
    // Whatever was notified while it was down is lost: forget everyone, once.
    expect(follower.changed()).toBeUndefined();
    expect(follower.changed()).toEqual([]);
    const id = await subscriber('frank');
    expect(await idsUntil(follower, id)).toEqual([[id]]);
  });

  it('when the listener stays down, then every call says forget everyone, the lineup version is polled, and one warn and one info line tell the operator', async () => {
    const follower = feed.follower();
    logs.lines.length = 0;
    await pool.query(`ALTER ROLE ${role} NOLOGIN`);
    try {
      await terminateListener();
      await within(2000, () => !feed.live, 'the feed down');
      expect(await metric('lineup_change_feed_up')).toEqual(['lineup_change_feed_up 0']);
      await pool.query("INSERT INTO channels (stream, name) VALUES ('sport', 'Sport')");
      const version = await lineupVersion();
      const polled = await within(3000, () => feed.lineupVersion() === version, `polled lineup version ${version}`);
      console.log(`change feed down: the lineup version was polled ${polled.toFixed(0)} ms after the commit`);
      // A change now is never notified: every call keeps saying forget everyone.
      await subscriber('grace');
      await sleep(50);
      expect([follower.changed(), follower.changed()]).toEqual([undefined, undefined]);
      expect(feed.live).toBe(false);
    } finally {
      await pool.query(`ALTER ROLE ${role} LOGIN`);
    }
    await within(6000, () => feed.live, 'the feed back');
    expect(follower.changed()).toBeUndefined();
    expect(await metric('lineup_change_feed_up')).toEqual(['lineup_change_feed_up 1']);
    const warnings = logs.lines.map((line) => JSON.parse(line)).filter((line) => line.level === 40);
    const infos = logs.lines.map((line) => JSON.parse(line)).filter((line) => line.level === 30);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: '57P01', msg: expect.stringContaining('change feed down') });
    expect(infos).toEqual([expect.objectContaining({ msg: expect.stringContaining('change feed back') })]);
    expect(logs.text()).not.toContain('feed-secret-word');
  });

  it('when the listen connection stops answering without closing, then the heartbeat notices, and the feed reconnects', async () => {
    const relay = await relayTo(url);
    const halfOpen = new ChangeFeed({ url: relay.url, pool, logger, heartbeat: { everyMs: 100, timeoutMs: 200 } });
    try {
      await halfOpen.start();
      const follower = halfOpen.follower();
      relay.freeze();
      await within(3000, () => !halfOpen.live, 'the feed down');
      expect(follower.changed()).toBeUndefined();
      await within(5000, () => halfOpen.live, 'the feed back');
      expect(follower.changed()).toBeUndefined();
      const id = await subscriber('heidi');
      expect(await idsUntil(follower, id)).toEqual([[id]]);
    } finally {
      await halfOpen.stop();
      relay.close();
    }
  });

  it('when the database cannot be reached at start, then start fails in one line naming LINEUP_DB without its password', async () => {
    await pool.query(`ALTER ROLE ${role} NOLOGIN`);
    const refused = new ChangeFeed({ url: feedUrl, pool, logger });
    try {
      const error = (await refused.start().then(
        () => undefined,
        (failure: Error) => failure,
      )) as Error;
      expect(error.message).toMatch(
        /^LINEUP_DB: cannot listen for changes on postgres:\/\/feed_\w+:\*\*\*@127\.0\.0\.1:\d+\/lineup_test_\w+: .*not permitted to log in/,
      );
      expect(error.message).not.toContain('feed-secret-word');
      expect(error.message).not.toContain('\n');
      expect(refused.live).toBe(false);
    } finally {
      await refused.stop();
      await pool.query(`ALTER ROLE ${role} LOGIN`);
    }
  });

  it('when stopped, then nothing it opened keeps the process alive', async () => {
    const script = `
      import { ChangeFeed } from ${JSON.stringify(join(ROOT, 'dist/db/pg/change-feed.js'))};
      import { openPostgresPool } from ${JSON.stringify(join(ROOT, 'dist/db/pg/connection.js'))};
      const pool = openPostgresPool(process.env.FEED_URL);
      const logger = { warn() {}, info() {} };
      const feed = new ChangeFeed({ url: process.env.FEED_URL, pool, logger });
      await feed.start();
      feed.follower();
      await feed.stop();
      await pool.end();
      console.log('stopped');
    `;
    const exit = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, FEED_URL: url } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('error', fail);
      child.on('close', (code) => {
        clearTimeout(timer);
        done({ code, stdout, stderr });
      });
    });
    // Killed (code null) had it still been running after 10 s.
    expect(exit).toMatchObject({ code: 0, stdout: 'stopped\n', stderr: '' });
  });
});
