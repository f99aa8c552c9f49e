import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import { openPostgresPool } from '../../src/db/pg/connection.js';
import { type CliResult, runCliCaptured, startTestLineup, tempDir } from '../helpers/lineup.js';
import { describePostgres, freshDatabase } from '../helpers/postgres.js';

const example = (name: string) => new URL(`../../data/examples/${name}`, import.meta.url).pathname;
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
/** In the order the README and their own comments give. */
const EXAMPLES = ['channels.sql', 'packages.sql', 'second-origin.sql', 'renew-all.sql'];

/** The tables operators' scripts write, compared without the columns that hold the time of writing. */
const TABLES = ['channels', 'packages', 'package_channels', 'origins', 'subscribers', 'subscriber_packages', 'categories'];
const WRITTEN_AT = new Set(['created_at', 'imported_at']);

const sortedRows = (rows: Array<Record<string, unknown>>) =>
  rows
    .map((row) => Object.fromEntries(Object.entries(row).filter(([column]) => !WRITTEN_AT.has(column))))
    .map((row) => JSON.stringify(row))
    .sort();

describePostgres('lineup sql on PostgreSQL', () => {
  const { dir, cleanup } = tempDir();
  let url: string;
  let pool: pg.Pool;
  const env = () => ({ LINEUP_DB: url, LINEUP_HOME: dir });
  const sql = (...argv: string[]) => runCliCaptured(['sql', ...argv], env());
  const query = async <T = Record<string, unknown>>(text: string) => (await pool.query(text)).rows as T[];
  const script = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const counts = async () =>
    Object.fromEntries(
      await Promise.all(
        TABLES.map(async (table) => [table, (await query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n]),
      ),
    );

  beforeEach(async () => {
    url = await freshDatabase();
    expect(await runCliCaptured(['init'], env())).toMatchObject({ code: 0, stderr: '' });
    pool = openPostgresPool(url);
  });
  afterEach(() => pool.end());
  afterAll(cleanup);

  it('when data/examples/*.sql run through lineup sql on SQLite and on PostgreSQL, then the tables hold the same rows and the same report is printed', async () => {
    const file = join(dir, 'same.db');
    const sqliteEnv = { LINEUP_DB: file };
    expect((await runCliCaptured(['init'], sqliteEnv)).code).toBe(0);
    const seed =
      "INSERT INTO subscribers (username, expires_at, enabled) VALUES ('kept', '2099-01-01 00:00:00', 1), ('off', '2020-01-01 00:00:00', 0);";
    const seedFile = script('seed.sql', seed);
    const outputs: Record<string, CliResult[]> = { sqlite: [], postgres: [] };
    for (const name of ['seed', ...EXAMPLES]) {
      const path = name === 'seed' ? seedFile : example(name);
      outputs.sqlite!.push(await runCliCaptured(['sql', path], sqliteEnv));
      outputs.postgres!.push(await sql(path));
    }
    for (const result of outputs.postgres!) expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(outputs.postgres).toEqual(outputs.sqlite);
    expect(outputs.postgres!.map((result) => result.stdout.split('\n')[0])).toContain(
      `${example('channels.sql')}: 1 statement, 5 rows changed`,
    );

    const db = new Database(file, { readonly: true });
    try {
      for (const table of TABLES) {
        const onSqlite = sortedRows(db.prepare(`SELECT * FROM ${table}`).all() as Array<Record<string, unknown>>);
        expect(sortedRows(await query(`SELECT * FROM ${table}`)), table).toEqual(onSqlite);
      }
    } finally {
      db.close();
    }
  });

  it("when the README's renewal runs unchanged, then lapsed subscribers get now + 7 days, current ones 7 more days and disabled ones nothing", async () => {
    const renewal = README.split('\n').find((line) => line.startsWith('UPDATE subscribers SET expires_at = datetime('));
    expect(renewal).toBeDefined();
    await query(`INSERT INTO subscribers (username, expires_at, enabled) VALUES
      ('lapsed', '2020-01-01 00:00:00', 1), ('current', '2099-01-01 12:00:00', 1), ('disabled', '2020-01-01 00:00:00', 0)`);
    const result = await sql(script('renew.sql', `${renewal}\n`));
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('renew.sql: 1 statement, 2 rows changed');
    const rows = await query<{ username: string; expires_at: string; due: string }>(
      `SELECT username, expires_at, to_char((now() AT TIME ZONE 'UTC') + interval '7 days', 'YYYY-MM-DD HH24:MI:SS') AS due FROM subscribers ORDER BY username`,
    );
    const byName = Object.fromEntries(rows.map((row) => [row.username, row]));
    expect(byName.current!.expires_at).toBe('2099-01-08 12:00:00');
    expect(byName.disabled!.expires_at).toBe('2020-01-01 00:00:00');
    // now + 7 days, to the second the statement ran (within the few seconds this test takes).
    expect(Math.abs(Date.parse(`${byName.lapsed!.expires_at}Z`) - Date.parse(`${byName.lapsed!.due}Z`))).toBeLessThan(10_000);
    const audit = await query<{ actor: string; subject: string }>(
      "SELECT actor, subject FROM audit_log WHERE entity = 'subscriber' AND action = 'update' ORDER BY subject",
    );
    expect(audit).toEqual([
      { actor: 'sql', subject: 'current' },
      { actor: 'sql', subject: 'lapsed' },
    ]);
  });

  it('when a file says INSERT OR IGNORE, then lineup sql exits 1 with one line naming the file, the line and ON CONFLICT DO NOTHING, and nothing is applied', async () => {
    const before = await counts();
    const file = script(
      'ignore.sql',
      "INSERT INTO packages (name) VALUES ('basic');\n\nINSERT OR IGNORE INTO packages (name) VALUES ('basic');\n",
    );
    const result = await sql(file);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `lineup: ${file}:3: INSERT OR IGNORE is SQLite syntax: on PostgreSQL write INSERT … ON CONFLICT DO NOTHING\n`,
    );
    expect(await counts()).toEqual(before);
  });

  it('when a statement fails after others succeeded, then the error names the file and the line of the fault, and the database is as it was', async () => {
    await sql(script('base.sql', "INSERT INTO channels (stream, name, number) VALUES ('base', 'Base', 1);"));
    const before = await counts();
    const file = script(
      'broken.sql',
      [
        "INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 2);",
        "UPDATE channels SET name = 'Base 1' WHERE stream = 'base';",
        '-- the next statement names a table that does not exist, on its second line',
        'INSERT INTO channels (stream, name)',
        '  SELECT stream, name FROM chanels;',
        "INSERT INTO channels (stream, name, number) VALUES ('three', 'Three', 3);",
      ].join('\n'),
    );
    const result = await sql(file);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`lineup: ${file}:5: relation "chanels" does not exist\n`);
    expect(await counts()).toEqual(before);
    expect(await query('SELECT name FROM channels')).toEqual([{ name: 'Base' }]);
  });

  it('when a function body and a DO block are dollar-quoted with semicolons inside, then each is one statement and runs whole', async () => {
    const file = script(
      'dollar.sql',
      `CREATE FUNCTION add_channel(s text, n int) RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
  INSERT INTO channels (stream, name, number) VALUES (s, initcap(s), n);
END
$body$;
DO $$
BEGIN
  PERFORM add_channel('alpha', 11);
  PERFORM add_channel('beta', 12);
END $$;
DROP FUNCTION add_channel(text, int);`,
    );
    const result = await sql(file);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('dollar.sql: 3 statements, 0 rows changed');
    expect(await query('SELECT stream, name, number FROM channels ORDER BY number')).toEqual([
      { stream: 'alpha', name: 'Alpha', number: 11 },
      { stream: 'beta', name: 'Beta', number: 12 },
    ]);
  });

  it('when a file would add a lint error, then it is rolled back and named unless --force, as on SQLite', async () => {
    await sql(script('first.sql', "INSERT INTO channels (stream, name, number) VALUES ('a', 'A', 206);"));
    const file = script('clash.sql', "INSERT INTO channels (stream, name, number) VALUES ('b', 'B', 206);");
    const refused = await sql(file);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(
        `^lineup: ${file}: rolled back: it would add 1 lint error \\(.*206.*\\); fix the file, or apply it anyway with --force\\n$`,
      ),
    );
    expect(await query('SELECT stream FROM channels ORDER BY stream')).toEqual([{ stream: 'a' }]);
    const forced = await sql(file, '--force');
    expect(forced).toMatchObject({ code: 0 });
    expect(forced.stdout).toContain('applied with --force despite 1 new lint error');
    expect(await query('SELECT stream FROM channels ORDER BY stream')).toEqual([{ stream: 'a' }, { stream: 'b' }]);
  });

  it('when a database copied from SQLite still holds the demo and a channel script runs, then the demo goes as it goes on SQLite, with the same report', async () => {
    const lineup = await startTestLineup({ seedDemo: true });
    try {
      expect((await runCliCaptured(['db', 'copy', '--from', lineup.dbPath, '--to', url], {})).code).toBe(0);
      expect(await query('SELECT username FROM subscribers')).toEqual([{ username: 'demo' }]);
      const onSqlite = await lineup.cli(['sql', example('channels.sql')]);
      const onPostgres = await sql(example('channels.sql'));
      expect(onPostgres).toEqual(onSqlite);
      expect(onPostgres.stdout).toMatch(/removed the demo lineup: .*Demo News/);
      const db = new Database(lineup.dbPath, { readonly: true });
      try {
        const streams = db.prepare('SELECT stream FROM channels ORDER BY stream').all();
        expect(await query('SELECT stream FROM channels ORDER BY stream')).toEqual(streams);
        expect(await query('SELECT username FROM subscribers')).toEqual([]);
      } finally {
        db.close();
      }
    } finally {
      await lineup.close();
    }
  });

  it('when a deferred constraint fails only at COMMIT, then the error still names the file and nothing of it stays', async () => {
    const file = script(
      'deferred.sql',
      `CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);
INSERT INTO child VALUES (1);`,
    );
    const result = await sql(file);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^lineup: ${file}:3: at COMMIT: insert or update on table "child" violates foreign key constraint .*\\n$`),
    );
    expect(await query("SELECT to_regclass('child') AS child")).toEqual([{ child: null }]);
  });

  it('when a file holds BEGIN, COMMIT and then ROLLBACK, then BEGIN and COMMIT are skipped and ROLLBACK is refused by line', async () => {
    const file = script('tx.sql', "BEGIN;\nINSERT INTO packages (name) VALUES ('x');\nCOMMIT;\nROLLBACK;\n");
    const result = await sql(file);
    expect(result.stderr).toBe(`lineup: ${file}:4: ROLLBACK is not allowed: each file already runs in one transaction\n`);
    expect(await query('SELECT name FROM packages')).toEqual([]);
  });
});
