import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrations.js';
import { runCliCaptured } from '../helpers/lineup.js';
import { describePostgres, freshDatabase } from '../helpers/postgres.js';

const ROOT = join(import.meta.dirname, '../..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** The README's bulk renewal, as an operator copies it. */
const README_RENEWAL = readme.match(/^UPDATE subscribers SET expires_at = datetime\(.*;$/m)![0];
const RENEW_ALL = readFileSync(join(ROOT, 'data/examples/renew-all.sql'), 'utf8');

const ROWS = `INSERT INTO subscribers (username, expires_at, enabled) VALUES
  ('future', '2099-06-30 12:00:00', 1), ('lapsed', '2001-01-01 00:00:00', 1), ('disabled', '2001-01-01 00:00:00', 0)`;

/** UTC text, as SQLite writes it, `days` from now. */
const utcIn = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 19).replace('T', ' ');

describePostgres('lineup_compat: SQLite scripts on PostgreSQL', () => {
  let url: string;
  let client: pg.Client;
  beforeAll(async () => {
    url = await freshDatabase();
    expect((await runCliCaptured(['init'], { LINEUP_DB: url })).code).toBe(0);
    // A new session, as psql's: it finds lineup_compat on the database's search_path.
    client = new pg.Client({ connectionString: url });
    await client.connect();
  });
  afterAll(() => client?.end());

  /** The same script on SQLite and on PostgreSQL, from the same rows: expires_at by username. */
  async function onBoth(script: string) {
    const sqlite = new Database(':memory:');
    migrate(sqlite);
    sqlite.exec(ROWS);
    sqlite.exec(script);
    const lite = Object.fromEntries(sqlite.prepare('SELECT username, expires_at FROM subscribers').raw().all() as [string, string][]);
    sqlite.close();
    await client.query('DELETE FROM subscribers');
    await client.query(ROWS);
    await client.query(script);
    const { rows } = await client.query<{ username: string; expires_at: string }>('SELECT username, expires_at FROM subscribers');
    return { sqlite: lite, postgres: Object.fromEntries(rows.map((row) => [row.username, row.expires_at])) };
  }

  it.each([
    ['the README', README_RENEWAL],
    ['data/examples/renew-all.sql', RENEW_ALL],
  ])('when the renewal of %s runs unchanged, then it gives what SQLite gives', async (_where, script) => {
    const earliest = utcIn(7);
    const { sqlite, postgres } = await onBoth(script);
    const latest = utcIn(7);
    expect(postgres.future).toBe('2099-07-07 12:00:00');
    expect(postgres.disabled).toBe('2001-01-01 00:00:00');
    expect(postgres).toEqual({ ...sqlite, lapsed: postgres.lapsed });
    // Lapsed: seven days from now, on each backend's clock, within the test's second or two.
    for (const lapsed of [sqlite.lapsed!, postgres.lapsed!]) {
      expect(lapsed >= earliest.slice(0, 16) && lapsed <= latest, `${lapsed} in [${earliest}, ${latest}]`).toBe(true);
    }
  });

  it('when psql applies renew-all.sql as the README shows (psql -1 -v ON_ERROR_STOP=1 -f FILE), then the shims are found and it renews', async () => {
    await client.query('DELETE FROM subscribers');
    await client.query(ROWS);
    execFileSync(
      '/usr/lib/postgresql/15/bin/psql',
      [url, '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-f', join(ROOT, 'data/examples/renew-all.sql')],
      {
        stdio: 'pipe',
      },
    );
    const { rows } = await client.query("SELECT expires_at FROM subscribers WHERE username = 'future'");
    expect(rows).toEqual([{ expires_at: '2099-07-07 12:00:00' }]);
  });

  it('when datetime takes a modifier SQLite scripts use, then it answers as SQLite does', async () => {
    const sqlite = new Database(':memory:');
    const cases = [
      "datetime('2030-01-31 10:20:30', '-30 days')",
      "datetime('2030-01-31 10:20:30', '+12 hours', 'start of day')",
      "datetime('2030-01-31', '+1 year')",
      "datetime('2030-01-31 10:20:30.9')",
      "datetime('not a time')",
      "max('2030-01-01 00:00:00', '2029-12-31 23:59:59')",
      "min('2030-01-01 00:00:00', '2029-12-31 23:59:59')",
      'json_valid(\'{"a": [1, 2]}\')',
      "json_valid('{a: 1}')",
    ];
    for (const expression of cases) {
      const expected = sqlite.prepare(`SELECT ${expression}`).pluck().get();
      const { rows } = await client.query(`SELECT ${expression} AS value`);
      const value = typeof rows[0].value === 'boolean' ? Number(rows[0].value) : rows[0].value;
      expect(value, expression).toEqual(expected);
    }
    sqlite.close();
    const { rows } = await client.query("SELECT datetime('now') AS now, datetime('now', '-30 days') AS before");
    expect(rows[0].now).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(rows[0].before < rows[0].now).toBe(true);
  });

  it('when datetime is given a modifier it does not support, then it is refused by name, not ignored', async () => {
    await expect(client.query("SELECT datetime('now', 'localtime')")).rejects.toThrow(
      /datetime\(\): modifier "localtime" is not supported on PostgreSQL/,
    );
  });
});
