import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { setAuditActor } from '../../src/db/audit-triggers.js';
import { type Db, openDatabase } from '../../src/db/open.js';
import { openPostgresPool } from '../../src/db/pg/connection.js';
import { migratePostgres } from '../../src/db/pg/migrations.js';
import { describePostgres, freshDatabase } from '../helpers/postgres.js';

const KEY = (c: string) => c.repeat(64);

/** Statements both dialects take, as an admin's script or Lineup's stores would write them. */
const STATEMENTS = [
  "INSERT INTO packages (name, description) VALUES ('premium', 'Sport')",
  "INSERT INTO channels (stream, name, group_title) VALUES ('news', 'News', 'General'), ('sport', 'Sport', 'Sports')",
  "INSERT INTO package_channels (package_id, channel_id) SELECT p.id, c.id FROM packages p, channels c WHERE p.name = 'premium' AND c.stream = 'sport'",
  `INSERT INTO subscribers (username, expires_at, key_hash) VALUES ('alice', '2030-01-01 00:00:00', '${KEY('a')}'), ('bob', '2030-01-01 00:00:00', '${KEY('b')}')`,
  "INSERT INTO subscriber_packages (subscriber_id, package_id) SELECT s.id, p.id FROM subscribers s, packages p WHERE s.username = 'alice'",
  "UPDATE subscribers SET expires_at = '2031-01-01 00:00:00' WHERE username = 'alice'",
  "UPDATE subscribers SET note = 'vip' WHERE username = 'bob'",
  `UPDATE subscribers SET key_hash = '${KEY('c')}', max_connections = 3 WHERE username = 'bob'`,
  "INSERT INTO origins (name, base_url, secret) VALUES ('edge2', 'http://edge2.example.net', 'origin-secret')",
  "UPDATE channels SET origin = 'edge2', number = 7 WHERE stream = 'sport'",
  "UPDATE origins SET name = 'edge3', secret = 'other-secret' WHERE name = 'edge2'",
  "DELETE FROM subscriber_packages WHERE subscriber_id = (SELECT id FROM subscribers WHERE username = 'alice')",
  "DELETE FROM subscribers WHERE username = 'bob'",
  "DELETE FROM package_channels WHERE channel_id = (SELECT id FROM channels WHERE stream = 'sport')",
  "DELETE FROM channels WHERE stream = 'news'",
];

/** What one statement left behind, in terms both backends share. */
interface Effect {
  statement: string;
  audit: string[];
  loggedSubscribers: number[];
  lineupVersionMoved: boolean;
  lineupChangesMoved: boolean;
  retiredKeys: string[];
}

const COUNTERS = `SELECT (SELECT version FROM lineup_version) AS lineup, (SELECT version FROM lineup_changes) AS changes,
  (SELECT coalesce(max(seq), 0) FROM subscriber_changes) AS seq, (SELECT coalesce(max(id), 0) FROM audit_log) AS audit`;
type Counters = { lineup: number; changes: number; seq: number; audit: number };
type AuditRow = { actor: string; action: string; entity: string; subject: string; before: string | null; after: string | null };

/** An audit row with its JSON parsed, so that the two dialects' spacing does not count. */
const auditLine = (row: AuditRow) =>
  JSON.stringify([
    row.actor,
    row.action,
    row.entity,
    row.subject,
    row.before && JSON.parse(row.before),
    row.after && JSON.parse(row.after),
  ]);

function onSqlite(db: Db): Effect[] {
  return STATEMENTS.map((statement) => {
    const before = db.prepare(COUNTERS).get() as Counters;
    db.exec(statement);
    const after = db.prepare(COUNTERS).get() as Counters;
    const audit = db
      .prepare('SELECT actor, action, entity, subject, before, after FROM audit_log WHERE id > ?')
      .all(before.audit) as AuditRow[];
    return {
      statement,
      audit: audit.map(auditLine).sort(),
      loggedSubscribers: db
        .prepare('SELECT DISTINCT subscriber_id FROM subscriber_changes WHERE seq > ? ORDER BY 1')
        .pluck()
        .all(before.seq) as number[],
      lineupVersionMoved: after.lineup !== before.lineup,
      lineupChangesMoved: after.changes !== before.changes,
      retiredKeys: (db.prepare('SELECT key_hash, subscriber_id, reason FROM retired_keys ORDER BY key_hash').raw().all() as unknown[]).map(
        (row) => JSON.stringify(row),
      ),
    };
  });
}

async function onPostgres(client: pg.ClientBase): Promise<Effect[]> {
  const effects: Effect[] = [];
  for (const statement of STATEMENTS) {
    const before = (await client.query<Counters>(COUNTERS)).rows[0]!;
    await client.query(statement);
    const after = (await client.query<Counters>(COUNTERS)).rows[0]!;
    const audit = await client.query<AuditRow>('SELECT actor, action, entity, subject, before, after FROM audit_log WHERE id > $1', [
      before.audit,
    ]);
    const logged = await client.query<{ id: number }>(
      'SELECT DISTINCT subscriber_id AS id FROM subscriber_changes WHERE seq > $1 ORDER BY 1',
      [before.seq],
    );
    const retired = await client.query({
      text: 'SELECT key_hash, subscriber_id, reason FROM retired_keys ORDER BY key_hash',
      rowMode: 'array',
    });
    effects.push({
      statement,
      audit: audit.rows.map(auditLine).sort(),
      loggedSubscribers: logged.rows.map((row) => row.id),
      lineupVersionMoved: after.lineup !== before.lineup,
      lineupChangesMoved: after.changes !== before.changes,
      retiredKeys: retired.rows.map((row) => JSON.stringify(row)),
    });
  }
  return effects;
}

describePostgres('the same statements on SQLite and PostgreSQL', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = openPostgresPool(await freshDatabase());
    await migratePostgres(pool);
  });
  afterAll(() => pool?.end());

  it('when an admin writes the same statements on both, then each leaves the same audit rows, subscriber log, counter moves and retired keys', async () => {
    const sqlite = openDatabase(':memory:');
    setAuditActor(sqlite, 'cli');
    const expected = onSqlite(sqlite);
    sqlite.close();
    const client = await pool.connect();
    try {
      await client.query("SET lineup.actor = 'cli'");
      const actual = await onPostgres(client);
      expect(expected.flatMap((effect) => effect.audit).length).toBeGreaterThan(15);
      expect(expected.some((effect) => effect.loggedSubscribers.length > 0 && !effect.lineupChangesMoved)).toBe(true);
      for (const [at, effect] of actual.entries()) expect(effect).toEqual(expected[at]);
      expect(JSON.stringify(actual.map((effect) => effect.audit))).not.toMatch(/origin-secret|other-secret|aaaaaaaa|cccccccc/);
    } finally {
      client.release();
    }
  });
});
