import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgresPool } from '../../src/db/pg/connection.js';
import { migratePostgres } from '../../src/db/pg/migrations.js';
import { PostgresPlaylistIpStore } from '../../src/db/pg/playlist-ip-store.js';
import { ConfigError } from '../../src/errors.js';
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

  it('when PLAYLIST_IP_LIMIT is set, then PlaylistIps refuses a storage without a synchronous admit', () => {
    expect(() => new PlaylistIps(new PostgresPlaylistIpStore(pool), () => NOON, { ...settings(), perConnection: 2 })).toThrow(ConfigError);
  });
});
