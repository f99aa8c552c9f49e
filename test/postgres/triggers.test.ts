import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrations.js';
import { openPostgresPool } from '../../src/db/pg/connection.js';
import { migratePostgres } from '../../src/db/pg/migrations.js';
import { describePostgres, freshDatabase } from '../helpers/postgres.js';

const HASH = (c: string) => c.repeat(64);

describePostgres('PostgreSQL triggers', () => {
  let pool: pg.Pool;
  let listener: pg.Client;
  const notifications: string[] = [];

  beforeAll(async () => {
    const url = await freshDatabase();
    pool = openPostgresPool(url);
    await migratePostgres(pool);
    listener = new pg.Client({ connectionString: url });
    await listener.connect();
    listener.on('notification', (message) => notifications.push(message.payload ?? ''));
    await listener.query('LISTEN lineup_changes');
  });
  afterAll(async () => {
    await listener?.end();
    await pool?.end();
  });

  const one = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await pool.query<T>(sql, params)).rows[0]!;
  const versions = () =>
    one<{ lineup: number; changes: number; seq: number }>(
      'SELECT (SELECT version FROM lineup_version) AS lineup, (SELECT version FROM lineup_changes) AS changes, (SELECT coalesce(max(seq), 0) FROM subscriber_changes) AS seq',
    );
  /** Waits for a notification that `match` accepts (delivered at commit, over the listening connection). */
  const notified = async (match: (payload: string) => boolean) => {
    for (let waited = 0; waited < 5000; waited += 10) {
      const found = notifications.find(match);
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no such notification; got ${JSON.stringify(notifications)}`);
  };

  it('when a subscriber is updated, then subscriber_changes logs it and a LISTENing client is told its id', async () => {
    const { id } = await one<{ id: number }>(
      "INSERT INTO subscribers (username, expires_at) VALUES ('alice', '2030-01-01 00:00:00') RETURNING id",
    );
    const before = await versions();
    notifications.length = 0;
    await pool.query("UPDATE subscribers SET enabled = 0 WHERE username = 'alice'");
    const after = await versions();
    expect(after.seq).toBeGreaterThan(before.seq);
    expect(after.lineup).toBe(before.lineup + 1);
    expect(after.changes).toBe(before.changes);
    expect((await pool.query('SELECT subscriber_id FROM subscriber_changes WHERE seq > $1', [before.seq])).rows).toEqual([
      { subscriber_id: id },
    ]);
    // Matched by sequence number: an earlier test's notification may still be on its way.
    expect(await notified((payload) => payload.startsWith(`S ${after.seq} `))).toBe(`S ${after.seq} ${id}`);
  });

  it('when a channel changes, then the lineup version moves, the subscriber log does not, and listeners are told the lineup changed', async () => {
    const before = await versions();
    notifications.length = 0;
    // The channel, and its new category ('' here), as on SQLite: each moves both counters.
    await pool.query("INSERT INTO channels (stream, name) VALUES ('news', 'News')");
    const after = await versions();
    expect(after.lineup).toBeGreaterThan(before.lineup);
    expect(after.changes).toBeGreaterThan(before.changes);
    expect(after.seq).toBe(before.seq);
    expect(await notified((payload) => payload === `L ${after.changes}`)).toBeDefined();
    const laterSubscriberNotices = notifications.filter(
      (payload) => payload.startsWith('S ') && Number(payload.split(' ')[1]) > before.seq,
    );
    expect(laterSubscriberNotices).toEqual([]);
  });

  it('when a statement changes no row, or only a note, then no version moves and nothing is logged', async () => {
    const before = await versions();
    await pool.query("DELETE FROM subscribers WHERE expires_at < '2000-01-01 00:00:00'");
    await pool.query("UPDATE channels SET name = name WHERE stream = 'nobody'");
    await pool.query("UPDATE subscribers SET note = 'called on Monday' WHERE username = 'alice'");
    const after = await versions();
    expect(after.seq).toBe(before.seq);
    expect(after.changes).toBe(before.changes);
    expect(after.lineup).toBe(before.lineup + 1); // the note's UPDATE touched a row of subscribers
  });

  it('when more than 100 subscribers change in one statement, then listeners are told "*" instead of every id', async () => {
    await pool.query(
      "INSERT INTO subscribers (username, expires_at) SELECT 'bulk' || n, '2030-01-01 00:00:00' FROM generate_series(1, 150) n",
    );
    notifications.length = 0;
    await pool.query("UPDATE subscribers SET expires_at = '2031-01-01 00:00:00' WHERE username LIKE 'bulk%'");
    const { seq } = await versions();
    expect(await notified((payload) => payload.startsWith(`S ${seq} `))).toBe(`S ${seq} *`);
    expect((await one<{ n: number }>('SELECT count(*)::int AS n FROM subscriber_changes WHERE seq > $1', [seq - 150])).n).toBe(150);
  });

  it('when a key is rotated and its subscriber deleted, then retired_keys says rotated, then removed, as on SQLite', async () => {
    await pool.query("INSERT INTO subscribers (username, expires_at, key_hash) VALUES ('bob', '2030-01-01 00:00:00', $1)", [HASH('a')]);
    await pool.query("UPDATE subscribers SET key_hash = $1 WHERE username = 'bob'", [HASH('b')]);
    const { id } = await one<{ id: number }>("SELECT id FROM subscribers WHERE username = 'bob'");
    expect((await pool.query('SELECT key_hash, subscriber_id, reason FROM retired_keys ORDER BY key_hash')).rows).toEqual([
      { key_hash: HASH('a'), subscriber_id: id, reason: 'rotated' },
    ]);
    await pool.query("DELETE FROM subscribers WHERE username = 'bob'");
    expect((await pool.query('SELECT key_hash, subscriber_id, reason FROM retired_keys ORDER BY key_hash')).rows).toEqual([
      { key_hash: HASH('a'), subscriber_id: null, reason: 'removed' },
      { key_hash: HASH('b'), subscriber_id: null, reason: 'removed' },
    ]);
  });

  it('when channels bring new groups, then categories get ids in the order they were written', async () => {
    await pool.query("INSERT INTO channels (stream, group_title) VALUES ('a1', 'Sports'), ('a2', 'Kids'), ('a3', 'Sports')");
    const { rows } = await pool.query("SELECT group_title FROM categories WHERE group_title IN ('Sports', 'Kids') ORDER BY id");
    expect(rows.map((row) => row.group_title)).toEqual(['Sports', 'Kids']);
  });

  it('when a session names its actor, then the audit trail records it, and psql-like sessions are "sql"; key hashes are left out', async () => {
    await pool.query("INSERT INTO subscribers (username, expires_at, key_hash) VALUES ('carol', '2030-01-01 00:00:00', $1)", [HASH('c')]);
    const client = await pool.connect();
    try {
      await client.query("SET lineup.actor = 'cli'");
      await client.query("UPDATE subscribers SET key_hash = $1, max_connections = 2 WHERE username = 'carol'", [HASH('d')]);
      await client.query('RESET lineup.actor');
    } finally {
      client.release();
    }
    const { rows } = await pool.query("SELECT actor, action, before, after FROM audit_log WHERE subject = 'carol' ORDER BY id");
    expect(rows.map((row) => [row.actor, row.action])).toEqual([
      ['sql', 'insert'],
      ['cli', 'update'],
    ]);
    expect(JSON.parse(rows[1].after)).toEqual({
      username: 'carol',
      expires_at: '2030-01-01 00:00:00',
      enabled: true,
      max_connections: 2,
      note: '',
      has_key: true,
      key_rotated: true,
      xc_password_rotated: false,
    });
    expect(JSON.stringify(rows)).not.toContain(HASH('c'));
    expect(JSON.stringify(rows)).not.toContain(HASH('d'));
  });

  it('when an XC password is rotated or taken away, then subscriber_changes logs its subscriber; set to what it was, nothing', async () => {
    const { id } = await one<{ id: number }>(
      "INSERT INTO subscribers (username, expires_at) VALUES ('xc-user', '2030-01-01 00:00:00') RETURNING id",
    );
    const logged = async (sql: string, params: unknown[]) => {
      const before = await versions();
      await pool.query(sql, params);
      return (await pool.query('SELECT subscriber_id FROM subscriber_changes WHERE seq > $1', [before.seq])).rows;
    };
    const rotate = "UPDATE subscribers SET xc_password_hash = $1 WHERE username = 'xc-user'";
    expect(await logged(rotate, [HASH('a')])).toEqual([{ subscriber_id: id }]);
    expect(await logged(rotate, [HASH('a')])).toEqual([]);
    expect(await logged(rotate, [null])).toEqual([{ subscriber_id: id }]);
  });
});

describePostgres('PostgreSQL CHECKs', () => {
  let pool: pg.Pool;
  const sqlite = new Database(':memory:');
  beforeAll(async () => {
    pool = openPostgresPool(await freshDatabase());
    await migratePostgres(pool);
    migrate(sqlite);
  });
  afterAll(async () => {
    sqlite.close();
    await pool?.end();
  });

  /** Whether each backend takes the row: the same answer is the point. */
  const accepted = async (sql: string, params: unknown[]) => {
    let onSqlite = true;
    try {
      sqlite.transaction(() => {
        sqlite.prepare(sql.replace(/\$\d+/g, '?')).run(...params);
        throw new Error('rolled back');
      })();
    } catch (error) {
      onSqlite = (error as Error).message === 'rolled back';
    }
    const client = await pool.connect();
    let onPostgres = true;
    try {
      await client.query('BEGIN');
      await client.query(sql, params);
    } catch {
      onPostgres = false;
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    return { sqlite: onSqlite, postgres: onPostgres };
  };

  it.each([
    ['2030-01-01 00:00:00', true],
    ['2028-02-29 23:59:59', true],
    ['2030-01-01T00:00:00', false],
    ['2030-01-01', false],
    ['2030-02-30 00:00:00', false],
    ['2030-13-01 00:00:00', false],
    ['2030-01-01 00:00:00.5', false],
    ['tomorrow', false],
  ])('when a subscriber is written with expires_at %j, then PostgreSQL answers as SQLite does (accepted: %s)', async (expiresAt, ok) => {
    const answers = await accepted('INSERT INTO subscribers (username, expires_at) VALUES ($1, $2)', ['dave', expiresAt]);
    expect(answers).toEqual({ sqlite: ok, postgres: ok });
  });

  it('when expires_at has the hour 24, which SQLite takes (its hours run to 24), then PostgreSQL refuses it: stricter, never looser', async () => {
    const answers = await accepted('INSERT INTO subscribers (username, expires_at) VALUES ($1, $2)', ['dave', '2030-01-01 24:00:00']);
    expect(answers).toEqual({ sqlite: true, postgres: false });
  });

  it.each([
    ['live/news24', true],
    ['/live/news24', false],
    ['  ', false],
  ])('when a channel is written with stream %j, then PostgreSQL answers as SQLite does (accepted: %s)', async (stream, ok) => {
    expect(await accepted('INSERT INTO channels (stream) VALUES ($1)', [stream])).toEqual({ sqlite: ok, postgres: ok });
  });

  it.each([
    ['edge2', 'http://edge2.example.net', '{}', true],
    ['edge 2', 'http://edge2.example.net', '{}', false],
    ['edge2', 'ftp://edge2.example.net', '{}', false],
    ['edge2', 'http://', '{}', false],
    ['edge2', 'http://edge2.example.net/a b', '{}', false],
    ['edge2', 'http://edge2.example.net/a\tb', '{}', false],
    ['edge2', 'http://edge2.example.net', '{"a":', false],
  ])('when an origin is written as %j %j %j, then PostgreSQL answers as SQLite does (accepted: %s)', async (name, baseUrl, options, ok) => {
    const answers = await accepted("INSERT INTO origins (name, base_url, secret, options) VALUES ($1, $2, 'k', $3)", [
      name,
      baseUrl,
      options,
    ]);
    expect(answers).toEqual({ sqlite: ok, postgres: ok });
  });
});
