import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresPool } from '../../src/db/pg/connection.js';
import { migratePostgres } from '../../src/db/pg/migrations.js';
import { PostgresPlaylistIpStore } from '../../src/db/pg/playlist-ip-store.js';
import { ForbiddenError } from '../../src/errors.js';
import { type PlaylistIpSettings, PlaylistIps } from '../../src/subscribers/playlist-ips.js';
import { toSqlTime } from '../../src/time.js';
import { describePostgres, freshDatabase } from '../helpers/postgres.js';

const NOON = Date.UTC(2026, 0, 1, 12) / 1000;
const SUBSCRIBER = { id: 1, maxConnections: 1 };

const settings = (onWriteError: (error: unknown) => void = () => {}): PlaylistIpSettings => ({
  bucketSeconds: 60,
  perConnection: undefined,
  windowSeconds: 3600,
  keepSeconds: 86_400,
  flushMs: 60_000,
  onWriteError,
});

describePostgres('playlist addresses written to PostgreSQL', () => {
  let url: string;
  let pool: pg.Pool;
  const rows = async () =>
    (await pool.query('SELECT ip, first_seen, last_seen, buckets FROM playlist_ips ORDER BY ip')).rows as Array<Record<string, unknown>>;

  beforeAll(async () => {
    url = await freshDatabase();
    pool = openPostgresPool(url);
    await migratePostgres(pool);
    await pool.query("INSERT INTO subscribers (id, username, expires_at) VALUES (1, 'alice', '2999-01-01 00:00:00')");
  });
  afterAll(async () => {
    await pool?.end();
  });

  it('when fetches are flushed, then the write is awaited, and one queued during it waits for it and is written by stop', async () => {
    const ips = new PlaylistIps(new PostgresPlaylistIpStore(pool), () => NOON, settings());
    ips.note(SUBSCRIBER, '203.0.113.1', NOON);
    const first = ips.flush();
    expect(first).toBeInstanceOf(Promise);
    // The same address a bucket later, queued while the first write is in flight.
    ips.note(SUBSCRIBER, '203.0.113.1', NOON + 60);
    ips.note(SUBSCRIBER, '203.0.113.2', NOON + 60);
    expect(ips.flush()).toBe(first);
    await first;
    expect(await rows()).toEqual([{ ip: '203.0.113.1', first_seen: toSqlTime(NOON), last_seen: toSqlTime(NOON), buckets: 1 }]);
    await ips.stop();
    expect(await rows()).toEqual([
      { ip: '203.0.113.1', first_seen: toSqlTime(NOON), last_seen: toSqlTime(NOON + 60), buckets: 2 },
      { ip: '203.0.113.2', first_seen: toSqlTime(NOON + 60), last_seen: toSqlTime(NOON + 60), buckets: 1 },
    ]);
    // Stopped while a write is in flight: that write, then what was queued meanwhile.
    ips.note(SUBSCRIBER, '203.0.113.1', NOON + 120);
    void ips.flush();
    ips.note(SUBSCRIBER, '203.0.113.4', NOON + 120);
    await ips.stop();
    expect((await rows()).map((row) => [row.ip, row.buckets])).toEqual([
      ['203.0.113.1', 3],
      ['203.0.113.2', 1],
      ['203.0.113.4', 1],
    ]);
  });

  it('when the database cannot be reached, then the write error is reported and stop still resolves', async () => {
    const closed = new URL(url);
    closed.port = '1';
    const unreachable = openPostgresPool(closed.toString());
    const errors: unknown[] = [];
    try {
      const ips = new PlaylistIps(
        new PostgresPlaylistIpStore(unreachable),
        () => NOON,
        settings((error) => errors.push(error)),
      );
      ips.note(SUBSCRIBER, '203.0.113.3', NOON);
      await ips.flush();
      expect(errors).toHaveLength(1);
      expect(String(errors[0])).toMatch(/ECONNREFUSED/);
      await ips.stop();
      expect(errors).toHaveLength(2);
    } finally {
      await unreachable.end();
    }
  });

  describe('with PLAYLIST_IP_LIMIT, on two nodes (two pools) sharing the table', () => {
    const limited = { ...settings(), perConnection: 1 };
    const TWO = { id: 2, maxConnections: 2 };
    let other: pg.Pool;
    beforeAll(async () => {
      other = openPostgresPool(url);
      await pool.query("INSERT INTO subscribers (id, username, expires_at) VALUES (2, 'bob', '2999-01-01 00:00:00')");
    });
    afterAll(async () => {
      await other?.end();
    });
    const refusal = /fetched from more places than your subscription allows/;

    it('when addresses come to both nodes, then the limit counts them together, a known one stays in, and only a new address waits for the database', async () => {
      const nodeA = new PlaylistIps(new PostgresPlaylistIpStore(pool), () => NOON, limited);
      const nodeB = new PlaylistIps(new PostgresPlaylistIpStore(other), () => NOON, limited);
      await nodeA.note(TWO, '198.51.100.1', NOON);
      await nodeB.note(TWO, '198.51.100.2', NOON);
      await expect(nodeA.note(TWO, '198.51.100.3', NOON)).rejects.toThrow(ForbiddenError);
      await expect(nodeB.note(TWO, '198.51.100.3', NOON)).rejects.toThrow(refusal);
      // Refused again from memory for the rest of the bucket: no round trip.
      expect(() => nodeA.note(TWO, '198.51.100.3', NOON + 1)).toThrow(refusal);
      // The other node's address is known in the table: let in on this node too.
      await nodeA.note(TWO, '198.51.100.2', NOON);
      // A known pair: at once, within the bucket and in the next ones (queued with the batch).
      expect(nodeA.note(TWO, '198.51.100.1', NOON + 1)).toBeUndefined();
      expect(nodeA.note(TWO, '198.51.100.1', NOON + 60)).toBeUndefined();
      await nodeA.stop();
      await nodeB.stop();
      const { rows: written } = await pool.query('SELECT ip, last_seen, buckets FROM playlist_ips WHERE subscriber_id = 2 ORDER BY ip');
      expect(written).toEqual([
        { ip: '198.51.100.1', last_seen: toSqlTime(NOON + 60), buckets: 2 },
        { ip: '198.51.100.2', last_seen: toSqlTime(NOON), buckets: 1 },
      ]);
      // Past TOKEN_TTL without a fetch, an address is forgotten by the count and by the node's memory.
      const later = NOON + 60 + 3600 + 60;
      await nodeB.note(TWO, '198.51.100.3', later);
      await nodeA.note(TWO, '198.51.100.4', later);
      await expect(nodeA.note(TWO, '198.51.100.1', later)).rejects.toThrow(refusal);
    });

    it('when two nodes admit two new addresses of a one-address subscriber at the same instant, then exactly one is let in, every round', async () => {
      const ROUNDS = 20;
      await pool.query(
        "INSERT INTO subscribers (id, username, expires_at) SELECT 100 + n, 'race' || n, '2999-01-01 00:00:00' FROM generate_series(1, $1::int) n",
        [ROUNDS],
      );
      const nodeA = new PlaylistIps(new PostgresPlaylistIpStore(pool), () => NOON, limited);
      const nodeB = new PlaylistIps(new PostgresPlaylistIpStore(other), () => NOON, limited);
      const winners = { A: 0, B: 0 };
      for (let round = 1; round <= ROUNDS; round++) {
        const subscriber = { id: 100 + round, maxConnections: 1 };
        const [a, b] = await Promise.allSettled([nodeA.note(subscriber, '192.0.2.1', NOON), nodeB.note(subscriber, '192.0.2.2', NOON)]);
        expect([a.status, b.status].sort(), `round ${round}`).toEqual(['fulfilled', 'rejected']);
        winners[a.status === 'fulfilled' ? 'A' : 'B']++;
      }
      const { rows: counted } = await pool.query('SELECT count(*)::int AS n FROM playlist_ips WHERE subscriber_id > 100');
      expect(counted[0].n).toBe(ROUNDS);
      console.log(`${ROUNDS} rounds at once: node A let its address in ${winners.A} times, node B ${winners.B}, never both`);
    });

    it('when the database cannot be reached, then a new address is let in and queued to be written', async () => {
      const closed = new URL(url);
      closed.port = '1';
      const unreachable = openPostgresPool(closed.toString());
      const errors: unknown[] = [];
      try {
        const ips = new PlaylistIps(new PostgresPlaylistIpStore(unreachable), () => NOON, {
          ...limited,
          onWriteError: (error) => errors.push(error),
        });
        await ips.note(SUBSCRIBER, '203.0.113.9', NOON);
        expect(String(errors[0])).toMatch(/ECONNREFUSED/);
        expect(ips.note(SUBSCRIBER, '203.0.113.9', NOON)).toBeUndefined();
        await ips.stop();
      } finally {
        await unreachable.end();
      }
    });
  });
});
