import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LineupStore } from '../../src/db/lineup-store.js';
import { type Db, openDatabase } from '../../src/db/open.js';
import { openPostgresPool } from '../../src/db/pg/connection.js';
import { copySqliteToPostgres } from '../../src/db/pg/copy.js';
import { readLineupSnapshot } from '../../src/db/pg/lineup-snapshot.js';
import { pingPostgres } from '../../src/db/pg/ping.js';
import { PostgresPlaylistIpStore } from '../../src/db/pg/playlist-ip-store.js';
import { PostgresSettingsStore } from '../../src/db/pg/settings-store.js';
import { FIND_ACCESS_SQL, PostgresSubscriberAccess } from '../../src/db/pg/subscriber-access-store.js';
import { postgresSubscriberCounter } from '../../src/db/pg/subscriber-counts.js';
import { PlaylistIpStore } from '../../src/db/playlist-ip-store.js';
import { SettingsStore } from '../../src/db/settings-store.js';
import { subscriberCounter } from '../../src/db/subscriber-counts.js';
import { SubscriberStore } from '../../src/db/subscriber-store.js';
import { XcCatalogStore } from '../../src/db/xc-catalog-store.js';
import type { PlaylistFetch } from '../../src/subscribers/playlist-ips.js';
import { systemClock } from '../../src/time.js';
import { tempDir } from '../helpers/lineup.js';
import { describePostgres, freshDatabase } from '../helpers/postgres.js';

const keyHash = (name: string) => createHash('sha256').update(name).digest('hex');
const RETENTION = { days: 30, clock: systemClock };
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'rot', 'nobody'];
/** Keys of every kind: current, rotated away, of a removed subscriber, retired long ago, unknown. */
const KEYS = ['alice', 'bob', 'carol', 'erin', 'rot-new', 'rot-old', 'gone', 'long-ago', 'unknown'].map(keyHash);

/**
 * Every column a playlist or a login reads, with values and with NULLs: origins whose names sort
 * differently by byte and by dictionary, channels tied on number, disabled ones, package links
 * written out of id order.
 */
const FIXTURE = `
  INSERT INTO origins (name, base_url, scheme, secret, ip_binding, hash_subject, token_ttl, token_desync, link_mode, options, previous_secret) VALUES
    ('edge-b', 'https://b.example.net/live//', 'nginx', 'secret-b', 'none', 'path', 600, 30, 'redirect', '{"weight":2,"tags":["x"]}', 'old-b'),
    ('Edge-Z', 'http://z.example.net', 'backend', 'secret-z', 'strict', 'id', NULL, 0, 'direct', '{}', NULL),
    ('edge-a', 'http://a.example.net:8080', 'flussonic', 'secret-a', 'strict', 'stream', NULL, NULL, NULL, '{}', NULL);
  INSERT INTO packages (id, name, description) VALUES (1, 'basic', ''), (2, 'premium', 'the lot'), (3, 'sports', '');
  INSERT INTO channels (id, stream, name, number, group_title, logo, tvg_id, enabled, catchup_days, radio, origin, created_at) VALUES
    (1, 'news', 'News', 1, 'News', 'http://logo/news.png', 'news.tv', 1, 7, 0, NULL, '2024-05-01 10:00:00'),
    (2, 'zeta', 'Zeta', NULL, '', '', '', 1, 0, 0, 'edge-a', '2024-05-02 10:00:00'),
    (3, 'alpha', 'alpha', NULL, 'Music', '', '', 1, 0, 1, 'edge-b', '2024-05-03 10:00:00'),
    (4, 'emile', 'Émile', NULL, 'Music', '', '', 1, 0, 0, NULL, '2024-05-04 10:00:00'),
    (5, 'tie-b', 'b', 5, 'Sport', 'l', 't', 1, 365, 0, 'Edge-Z', '2024-05-05 10:00:00'),
    (6, 'tie-B', 'B', 5, 'Sport', '', '', 1, 0, 0, NULL, '2024-05-06 10:00:00'),
    (7, 'hidden', 'Hidden', 2, 'Secret', '', '', 0, 0, 0, NULL, '2024-05-07 10:00:00'),
    (8, 'same', 'Same', 9, 'News', '', '', 1, 1, 1, 'edge-a', 'not a time'),
    (9, 'same2', 'Same', 9, 'Ünicode', '', '', 1, 0, 0, 'edge-b', '2024-05-09 10:00:00');
  INSERT INTO package_channels (package_id, channel_id) VALUES (3, 5), (1, 5), (2, 5), (2, 1), (3, 7), (1, 9);
  INSERT INTO subscribers (id, username, key_hash, expires_at, enabled, max_connections, note, created_at, xc_password_hash) VALUES
    (1, 'alice', '${keyHash('alice')}', '2999-01-01 00:00:00', 1, 2, 'vip', '2024-01-01 00:00:00', '${keyHash('alice-xc')}'),
    (2, 'bob', '${keyHash('bob')}', '2999-01-01 00:00:00', 0, 1, '', '2024-01-02 00:00:00', NULL),
    (3, 'carol', '${keyHash('carol')}', '2001-02-01 00:00:00', 1, 1, '', '2024-01-03 00:00:00', NULL),
    (4, 'dave', NULL, '2999-01-01 00:00:00', 1, 1000, '', '2024-01-04 00:00:00', NULL),
    (5, 'erin', '${keyHash('erin')}', '2001-02-01 00:00:00', 0, 3, '', '2024-01-05 00:00:00', NULL),
    (6, 'rot', '${keyHash('rot-old')}', '2999-01-01 00:00:00', 1, 1, '', '2024-01-06 00:00:00', NULL),
    (7, 'gone', '${keyHash('gone')}', '2999-01-01 00:00:00', 1, 1, '', '2024-01-07 00:00:00', NULL);
  INSERT INTO subscriber_packages (subscriber_id, package_id) VALUES (1, 3), (1, 1), (1, 2), (2, 2), (6, 1);
  UPDATE subscribers SET key_hash = '${keyHash('rot-new')}' WHERE username = 'rot';
  DELETE FROM subscribers WHERE username = 'gone';
  INSERT INTO retired_keys (key_hash, subscriber_id, reason, retired_at) VALUES ('${keyHash('long-ago')}', NULL, 'removed', '2001-01-01 00:00:00');
  INSERT INTO settings (name, value) VALUES ('kept', 'from sqlite');
`;

/** Both backends' answer, or the error each gave, for deep comparison. */
async function settled<T>(read: () => T | Promise<T>): Promise<{ value: T } | { error: string }> {
  try {
    return { value: await read() };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

describePostgres('the PostgreSQL read stores answer as the SQLite ones do', () => {
  const temp = tempDir();
  let db: Db;
  let url: string;
  let pool: pg.Pool;

  beforeAll(async () => {
    const file = join(temp.dir, 'lineup.db');
    db = openDatabase(file);
    db.exec(FIXTURE);
    db.close();
    url = await freshDatabase();
    await copySqliteToPostgres(file, url);
    db = openDatabase(file);
    pool = openPostgresPool(url);
  });
  afterAll(async () => {
    db?.close();
    await pool?.end();
    temp.cleanup();
  });

  it('when a key is looked up (active, disabled, expired, several packages, none, rotated, removed, retired long ago), then both give the same access and retired reason', async () => {
    const sqlite = new SubscriberStore(db, RETENTION);
    const postgres = new PostgresSubscriberAccess(pool, RETENTION);
    for (const key of KEYS) {
      expect(await postgres.findAccess(key), key).toEqual(sqlite.findAccess(key));
      expect(await postgres.retiredReason(key), key).toEqual(sqlite.retiredReason(key));
    }
    // The cases are there, not all undefined on both sides.
    expect(sqlite.findAccess(keyHash('alice'))?.packageIds).toEqual([1, 2, 3]);
    expect((await postgres.findAccess(keyHash('carol')))?.packageIds).toEqual([]);
    expect(await postgres.retiredReason(keyHash('rot-old'))).toBe('rotated');
    expect(await postgres.retiredReason(keyHash('gone'))).toBe('removed');
    expect(sqlite.retiredReason(keyHash('long-ago'))).toBeUndefined();
  });

  it('when a subscriber is looked up by name, then both give the same access and XC login, and the same NotFoundError', async () => {
    const sqlite = new SubscriberStore(db, RETENTION);
    const postgres = new PostgresSubscriberAccess(pool, RETENTION);
    for (const username of USERS) {
      expect(await settled(() => postgres.findAccessByUsername(username)), username).toEqual(
        await settled(() => sqlite.findAccessByUsername(username)),
      );
      expect(await postgres.findXcLogin(username), username).toEqual(sqlite.findXcLogin(username));
    }
    expect(await settled(() => postgres.findAccessByUsername('nobody'))).toEqual({ error: 'NotFoundError: no subscriber named "nobody"' });
    expect((await postgres.findXcLogin('alice'))?.xcPasswordHash).toBe(keyHash('alice-xc'));
    expect(await postgres.findAccessByUsername('dave')).not.toHaveProperty('keyHash');
  });

  it('when the lineup is read in one snapshot, then channels, origins, categories and placements are SQLite’s, in its order', async () => {
    const lineup = new LineupStore(db);
    const catalog = new XcCatalogStore(db);
    const snapshot = await readLineupSnapshot(pool);
    expect(snapshot.channels).toEqual(lineup.channels());
    expect(snapshot.origins).toEqual(lineup.origins());
    expect(snapshot.categories).toEqual(catalog.categories());
    expect(snapshot.placements).toEqual(catalog.channelPlacements());
    // The order is the point: byte order of names, NULL numbers last, the disabled left out.
    expect(snapshot.channels.map((channel) => channel.id)).toEqual([1, 6, 5, 8, 9, 2, 3, 4]);
    expect(snapshot.origins.map((origin) => origin.name)).toEqual(['Edge-Z', 'edge-a', 'edge-b']);
    expect(snapshot.channels.find((channel) => channel.id === 5)?.packageIds).toEqual([1, 2, 3]);
    expect(snapshot.placements.get(8)?.added).toBe(0);
    const versions = db
      .prepare('SELECT (SELECT version FROM lineup_changes) AS lineup, (SELECT version FROM lineup_version) AS access')
      .get();
    expect({ lineup: snapshot.lineupVersion, access: snapshot.accessVersion }).toEqual(
      Object.fromEntries(Object.entries(versions as object).map(([name, value]) => [name, String(value)])),
    );
  });

  it('when a subscriber changes, then only the access version moves; when a channel does, both move', async () => {
    const before = await readLineupSnapshot(pool);
    await pool.query("UPDATE subscribers SET enabled = 0 WHERE username = 'alice'");
    const renewed = await readLineupSnapshot(pool);
    expect(renewed.lineupVersion).toBe(before.lineupVersion);
    expect(renewed.accessVersion).not.toBe(before.accessVersion);
    await pool.query("UPDATE channels SET name = 'News!' WHERE id = 1");
    const changed = await readLineupSnapshot(pool);
    expect(changed.lineupVersion).not.toBe(renewed.lineupVersion);
    expect(changed.channels[0]?.name).toBe('News!');
    await pool.query("UPDATE channels SET name = 'News' WHERE id = 1; UPDATE subscribers SET enabled = 1 WHERE username = 'alice'");
  });

  it('when an admin deleted the version rows, then every change still moves both versions', async () => {
    await pool.query('DELETE FROM lineup_changes; DELETE FROM lineup_version');
    try {
      const before = await readLineupSnapshot(pool);
      await pool.query("UPDATE settings SET value = value WHERE name = 'kept'");
      const after = await readLineupSnapshot(pool);
      expect(after.lineupVersion).not.toBe(before.lineupVersion);
      expect(after.accessVersion).not.toBe(before.accessVersion);
    } finally {
      await pool.query(
        'INSERT INTO lineup_changes (id, version) VALUES (1, 100); INSERT INTO lineup_version (id, version) VALUES (1, 100)',
      );
    }
  });

  it('when settings are read, written and created, then both give the same answers', async () => {
    const sqlite = new SettingsStore(db);
    const postgres = new PostgresSettingsStore(pool);
    expect(await postgres.get('kept')).toBe('from sqlite');
    expect(await postgres.get('missing')).toBe(sqlite.get('missing'));
    await postgres.set('kept', 'changed');
    sqlite.set('kept', 'changed');
    expect(await postgres.get('kept')).toBe(sqlite.get('kept'));
    expect(await postgres.getOrCreate('kept', () => 'new')).toEqual(sqlite.getOrCreate('kept', () => 'new'));
    expect(await postgres.getOrCreate('fresh', () => 'made')).toEqual(sqlite.getOrCreate('fresh', () => 'made'));
    expect(await postgres.getOrCreate('fresh', () => 'again')).toEqual({ value: 'made', created: false });
  });

  it('when two nodes create the same setting at once, then both get one value and exactly one created it', async () => {
    const other = openPostgresPool(url);
    try {
      const nodes = [new PostgresSettingsStore(pool), new PostgresSettingsStore(other)];
      let raced = 0;
      for (let round = 0; round < 20; round++) {
        let creates = 0;
        const results = await Promise.all(
          nodes.map((node, n) =>
            node.getOrCreate(`race-${round}`, () => {
              creates++;
              return `node-${n}`;
            }),
          ),
        );
        expect(results[0]!.value).toBe(results[1]!.value);
        expect(results.filter((result) => result.created)).toHaveLength(1);
        if (creates === 2) raced++;
      }
      // Both found nothing and both inserted, at least once: the race was run, not avoided.
      expect(raced).toBeGreaterThan(0);
    } finally {
      await other.end();
    }
  });

  it('when playlist fetches are recorded in batches, then playlist_ips holds the same rows as SQLite’s, skipping the removed subscriber and bad rows', async () => {
    const sqlite = new PlaylistIpStore(db);
    const postgres = new PostgresPlaylistIpStore(pool);
    const batches: PlaylistFetch[][] = [
      [
        { subscriberId: 1, ip: '203.0.113.7', at: '2026-01-01 10:00:00' },
        { subscriberId: 2, ip: '2001:db8::1', at: '2026-01-01 10:00:00' },
        { subscriberId: 7, ip: '203.0.113.9', at: '2026-01-01 10:00:00' },
        { subscriberId: 1, ip: '', at: '2026-01-01 10:00:00' },
        // The same pair in a later bucket of the same batch (a queue kept through a failed write).
        { subscriberId: 1, ip: '203.0.113.7', at: '2026-01-01 10:05:00' },
        { subscriberId: 1, ip: '203.0.113.8', at: '2026-01-01 10:05:00' },
      ],
      [
        { subscriberId: 1, ip: '203.0.113.7', at: '2026-01-01 10:05:00' },
        { subscriberId: 1, ip: '203.0.113.7', at: '2026-01-01 10:01:00' },
        { subscriberId: 2, ip: '2001:db8::1', at: '2026-01-01 11:00:00' },
        { subscriberId: 3, ip: '198.51.100.1', at: '2025-12-01 00:00:00' },
      ],
      [],
    ];
    for (const batch of batches) {
      sqlite.record(batch);
      await postgres.record(batch);
    }
    const rowsSql = 'SELECT subscriber_id, ip, first_seen, last_seen, buckets FROM playlist_ips ORDER BY subscriber_id, ip';
    const sqliteRows = db.prepare(rowsSql).all();
    expect((await pool.query(rowsSql)).rows).toEqual(sqliteRows);
    expect(sqliteRows).toContainEqual({
      subscriber_id: 1,
      ip: '203.0.113.7',
      first_seen: '2026-01-01 10:00:00',
      last_seen: '2026-01-01 10:05:00',
      buckets: 2,
    });
    expect(await postgres.forgetBefore('2026-01-01 00:00:00')).toBe(sqlite.forgetBefore('2026-01-01 00:00:00'));
    expect((await pool.query(rowsSql)).rows).toEqual(db.prepare(rowsSql).all());
  });

  it('when subscribers are counted by state, then both give the same counts', async () => {
    for (const at of ['2000-01-01 00:00:00', '2026-01-01 00:00:00', '2999-01-01 00:00:00']) {
      expect(await postgresSubscriberCounter(pool)(at), at).toEqual(subscriberCounter(db)(at));
    }
  });

  it('when the database answers, then the ping says nothing; when it cannot be reached, then it says why within its timeout', async () => {
    expect(await pingPostgres(pool)).toBeUndefined();
    const closed = new URL(url);
    closed.port = '1';
    const unreachable = openPostgresPool(closed.toString());
    try {
      expect(await pingPostgres(unreachable, 2000)).toMatch(/^the database cannot be reached: .*ECONNREFUSED/);
    } finally {
      await unreachable.end();
    }
  });

  it('when 20,000 subscribers are there, then the key lookup uses the UNIQUE key_hash index and one package index scan', async () => {
    await pool.query(`
      INSERT INTO subscribers (username, key_hash, expires_at)
        SELECT 'bulk' || i, encode(sha256(('bulk' || i)::bytea), 'hex'), '2999-01-01 00:00:00' FROM generate_series(1, 20000) AS i;
      INSERT INTO subscriber_packages (subscriber_id, package_id)
        SELECT s.id, p.id FROM subscribers s JOIN packages p ON p.id <= 1 + s.id % 3 WHERE s.username LIKE 'bulk%';
      ANALYZE subscribers; ANALYZE subscriber_packages;`);
    const client = await pool.connect();
    try {
      await client.query(`PREPARE probe(text) AS ${FIND_ACCESS_SQL}`);
      const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE probe('${keyHash('bulk7')}')`)).rows
        .map((row) => row['QUERY PLAN'])
        .join('\n');
      expect(plan).toMatch(/Index Scan using subscribers_key_hash_key on subscribers/);
      expect(plan).toMatch(/Index Only Scan using subscriber_packages_pkey|Index Scan using subscriber_packages_pkey/);
      expect(plan).not.toMatch(/Seq Scan/);
      await client.query('DEALLOCATE probe');
    } finally {
      client.release();
    }
    expect((await new PostgresSubscriberAccess(pool, RETENTION).findAccess(keyHash('bulk7')))?.username).toBe('bulk7');
  });
});
