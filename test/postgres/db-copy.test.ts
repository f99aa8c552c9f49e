import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openPostgresPool } from '../../src/db/pg/connection.js';
import { startPostgresNode } from '../../src/postgres-node.js';
import { startLineup } from '../../src/standalone.js';
import { type CliResult, captureLogs, fetchBytes, runCliCaptured, startTestLineup, type TestLineup, tempDir } from '../helpers/lineup.js';
import { describePostgres, freshDatabase } from '../helpers/postgres.js';

const example = (name: string) => new URL(`../../data/examples/${name}`, import.meta.url).pathname;
const PASSWORD = 'pw-never-printed-7731';
const IP = '203.0.113.7';

/** The URL with a password in it: the test cluster trusts every connection, so it is never checked, only carried. */
const withPassword = (url: string) => {
  const parsed = new URL(url);
  parsed.password = PASSWORD;
  return parsed.toString();
};

type Rows = Record<string, string[]>;

/** Every row of every Lineup table, each as JSON, sorted: "the same database" in one value. */
function sqliteRows(file: string): Rows {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .pluck()
      .all() as string[];
    return Object.fromEntries(
      tables.map((table) => [table, (db.prepare(`SELECT * FROM "${table}"`).all() as object[]).map((row) => JSON.stringify(row)).sort()]),
    );
  } finally {
    db.close();
  }
}

async function postgresRows(pool: pg.Pool): Promise<Rows> {
  const { rows: tables } = await pool.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'lineup_schema' ORDER BY 1",
  );
  const rows: Rows = {};
  for (const { name } of tables) rows[name] = (await pool.query(`SELECT * FROM "${name}"`)).rows.map((row) => JSON.stringify(row)).sort();
  return rows;
}

const settingsOf = (rows: Rows) => rows.settings!.map((row) => JSON.parse(row) as { name: string; value: string });

describePostgres('lineup db copy between SQLite and PostgreSQL', () => {
  let lineup: TestLineup;
  let url: string;
  let pool: pg.Pool;
  let copied: CliResult;
  const outputs: CliResult[] = [];
  /** Which of `outputs` are db copy's. */
  const copies: number[] = [];
  const cli = async (argv: string[], env: NodeJS.ProcessEnv = lineup.env) => {
    const result = await runCliCaptured(argv, env);
    if (argv[0] === 'db' && argv[1] === 'copy') copies.push(outputs.length);
    outputs.push(result);
    return result;
  };

  beforeAll(async () => {
    lineup = await startTestLineup();
    for (const name of ['channels.sql', 'packages.sql', 'second-origin.sql']) expect((await cli(['sql', example(name)])).code).toBe(0);
    expect((await cli(['subscriber', 'add', 'alice', '--package', 'premium', '--max-connections', '2'])).code).toBe(0);
    expect((await cli(['subscriber', 'add', 'bob', '--days', '7', '--note', 'trial'])).code).toBe(0);
    expect((await cli(['subscriber', 'add', 'gone'])).code).toBe(0);
    expect((await cli(['subscriber', 'remove', 'gone'])).code).toBe(0);
    expect((await cli(['subscriber', 'rotate', 'bob'])).code).toBe(0);
    expect((await cli(['api-token', 'add', 'billing'])).code).toBe(0);
    url = withPassword(await freshDatabase());
    pool = openPostgresPool(url);
    copied = await cli(['db', 'copy', '--from', lineup.dbPath, '--to', url]);
  });
  afterAll(async () => {
    await pool?.end();
    await lineup?.close();
  });

  it('when a populated SQLite database is copied to PostgreSQL, then every table holds the same rows, secrets byte for byte', async () => {
    expect(copied).toMatchObject({ code: 0, stderr: '' });
    expect(copied.stdout).toMatch(
      /^Copied .*lineup\.db to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/lineup_test_\w+: 2 subscribers, 7 channels \(\d+ tables, \d+ rows\)\n$/,
    );
    const source = sqliteRows(lineup.dbPath);
    const target = await postgresRows(pool);
    expect(Object.keys(target)).toEqual(Object.keys(source));
    for (const table of Object.keys(source)) expect(target[table], table).toEqual(source[table]);
    // What the comparison covers, named: the sealed credentials, the generated secrets, the audit trail.
    const alice = (await pool.query("SELECT key_hash, key_sealed, xc_password_sealed FROM subscribers WHERE username = 'alice'")).rows[0];
    expect(alice.key_sealed).toMatch(/\S{20}/);
    expect(settingsOf(target).map((setting) => setting.name)).toContain('token_bucket_secret');
    expect(target.audit_log!.length).toBeGreaterThan(5);
    expect(target.retired_keys!.length).toBe(2);
  });

  it('when copied back to a new SQLite file, then lineup render gives byte-identical playlists from both files', async () => {
    const back = join(lineup.dir, 'back.db');
    const result = await cli(['db', 'copy', '--from', url, '--to', back]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(sqliteRows(back)).toEqual(sqliteRows(lineup.dbPath));
    const highMarks = (file: string) => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare('SELECT name, seq FROM sqlite_sequence ORDER BY name').all();
      } finally {
        db.close();
      }
    };
    expect(highMarks(back)).toEqual(highMarks(lineup.dbPath));
    const now = Math.floor(Date.now() / 1000);
    const clock = () => now;
    // The credentials key is a file beside the database, not in it: the operator keeps using the same one.
    const env = { ...lineup.env, CREDENTIALS_KEY_FILE: `${lineup.dbPath}.key` };
    for (const user of ['alice', 'bob']) {
      const original = await runCliCaptured(['render', user, '--ip', IP], env, clock);
      const copy = await runCliCaptured(['render', user, '--ip', IP], { ...env, LINEUP_DB: back }, clock);
      expect(original).toMatchObject({ code: 0, stderr: '' });
      expect(original.stdout).toMatch(/^#EXTM3U\n[\s\S]*token=/);
      expect(copy.stdout).toBe(original.stdout);
    }
  });

  it("when a PostgreSQL node serves the copy, then its playlists are byte-identical to a SQLite server's for the same clock, address and bucket", async () => {
    const now = Math.floor(Date.now() / 1000);
    const clock = () => now;
    const { logger } = captureLogs();
    const env = { ...lineup.env, PORT: '0', CREDENTIALS_KEY_FILE: `${lineup.dbPath}.key` };
    const sqlite = await startLineup(loadConfig(env), { logger, clock });
    const node = await startPostgresNode(loadConfig({ ...env, LINEUP_DB: url }), { logger, clock });
    try {
      const urls = outputs.flatMap((output) =>
        [...output.stdout.matchAll(/http:\/\/lineup\.test(\/playlist\/\S+\.m3u)/g)].map((match) => match[1]!),
      );
      expect(urls.length).toBeGreaterThanOrEqual(2);
      // Every URL the CLI printed: alice's and bob's current ones (200), bob's rotated one (403), gone's (410).
      const served: number[] = [];
      for (const path of urls) {
        const fromSqlite = await fetchBytes(`${sqlite.url}${path}`);
        const fromPostgres = await fetchBytes(`${node.url}${path}`);
        expect(fromPostgres.status, path).toBe(fromSqlite.status);
        expect(fromPostgres.body.equals(fromSqlite.body), path).toBe(true);
        if (fromSqlite.status === 200) expect(fromSqlite.body.toString('utf8')).toMatch(/^#EXTM3U\n[\s\S]*token=/);
        served.push(fromSqlite.status);
      }
      expect(served.sort()).toEqual([200, 200, 403, 410]);
    } finally {
      await node.stop();
      await sqlite.stop();
    }
  });

  it('when a subscriber is inserted through lineup sql on PostgreSQL after the copy, then it gets the id after the copied ones', async () => {
    const source = new Database(lineup.dbPath, { readonly: true });
    const highest = source.prepare('SELECT max(id) FROM subscribers').pluck().get() as number;
    source.close();
    const file = join(lineup.dir, 'carol.sql');
    writeFileSync(file, "INSERT INTO subscribers (username, expires_at) VALUES ('carol', '2099-01-01 00:00:00');\n");
    const result = await cli(['sql', file], { LINEUP_DB: url, LINEUP_HOME: lineup.dir });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const { rows } = await pool.query("SELECT id FROM subscribers WHERE username = 'carol'");
    // Without the sequence moved on, PostgreSQL would give 1, which alice holds.
    expect(rows).toEqual([{ id: highest + 1 }]);
  });

  it('when the target already holds data, then the copy is refused with one line and changes nothing', async () => {
    const before = await postgresRows(pool);
    const result = await cli(['db', 'copy', '--from', lineup.dbPath, '--to', url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^lineup: postgres:\/\/postgres:\*\*\*@[^ ]+ is not empty \(\w+ has \d+ rows?\): copy into a new database\n$/,
    );
    expect(await postgresRows(pool)).toEqual(before);
  });

  it('when the SQLite target already holds data, then the copy back is refused with one line and the file is left as it was', async () => {
    const before = sqliteRows(lineup.dbPath);
    const result = await cli(['db', 'copy', '--from', url, '--to', lineup.dbPath]);
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toBe(`lineup: ${lineup.dbPath} is not empty (api_tokens has 1 row): copy into a new file\n`);
    expect(sqliteRows(lineup.dbPath)).toEqual(before);
  });

  it('when a row fails on PostgreSQL mid-copy, then the error names its table and the target is left empty', async () => {
    const broken = join(lineup.dir, 'broken.db');
    expect((await cli(['db', 'backup', broken])).code).toBe(0);
    const db = new Database(broken);
    // PostgreSQL's text cannot hold a NUL character, SQLite's can: subscribers come after channels and packages.
    db.prepare("UPDATE subscribers SET note = 'a' || char(0) || 'b' WHERE username = 'bob'").run();
    db.close();
    const target = withPassword(await freshDatabase());
    const result = await cli(['db', 'copy', '--from', broken, '--to', target]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^lineup: table subscribers: .*; nothing was copied\n$/);
    const other = openPostgresPool(target);
    try {
      const rows = await postgresRows(other);
      const filled = Object.entries(rows).filter(
        ([table, content]) => content.length > 0 && !['lineup_version', 'lineup_changes', 'subscriber_changes_trimmed'].includes(table),
      );
      expect(filled).toEqual([]);
    } finally {
      await other.end();
    }
  });

  it('when db copy printed anything, then neither the URL password nor a secret of the database was in it', async () => {
    const rows = sqliteRows(lineup.dbPath);
    const secretSettings = settingsOf(rows).filter((setting) => !['public_url', 'seeded_at'].includes(setting.name));
    const sealed = rows.subscribers!.flatMap((row) => {
      const { key_hash, key_sealed, xc_password_hash, xc_password_sealed } = JSON.parse(row) as Record<string, string | null>;
      return [key_hash, key_sealed, xc_password_hash, xc_password_sealed];
    });
    const secrets = [PASSWORD, ...secretSettings.map((setting) => setting.value), ...sealed].filter((value): value is string => !!value);
    expect(secrets.length).toBeGreaterThan(5);
    const printed = outputs
      .filter((_, at) => copies.includes(at))
      .map((output) => output.stdout + output.stderr)
      .join('\n');
    expect(printed).toContain('Copied');
    for (const secret of secrets) expect(printed).not.toContain(secret);
  });
});

describe('lineup db copy: its arguments', () => {
  it.each([
    [['db', 'copy', '--from', 'a.db'], 'lineup: db copy: expected --from SRC --to DST\n'],
    [
      ['db', 'copy', '--from', 'a.db', '--to', 'b.db'],
      'lineup: db copy: copies between SQLite and PostgreSQL, one of each (lineup db backup copies within one kind)\n',
    ],
    [
      ['db', 'copy', '--from', 'postgres://u:pw-secret@127.0.0.1:1/a', '--to', 'postgres://u:pw-secret@127.0.0.1:1/b'],
      'lineup: db copy: copies between SQLite and PostgreSQL, one of each (pg_dump copies within one kind)\n',
    ],
  ])('when given %j, then it exits 2 with one line saying what it takes', async (argv, stderr) => {
    expect(await runCliCaptured(argv, {})).toEqual({ code: 2, stdout: '', stderr });
  });

  it('when SRC is not a Lineup database, then one line names it and no server is asked', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'other.db');
      writeFileSync(file, 'not a database at all, just text that is long enough to be read as a header');
      const result = await runCliCaptured(['db', 'copy', '--from', file, '--to', 'postgres://u:pw-secret@127.0.0.1:1/b'], {});
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`lineup: ${file} is not a Lineup database: file is not a database\n`);
    } finally {
      cleanup();
    }
  });
});

describe('lineup sql with a PostgreSQL that cannot be reached', () => {
  it('when the server refuses the connection, then one line names the URL without its password', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'a.sql');
      writeFileSync(file, 'SELECT 1;');
      const result = await runCliCaptured(['sql', file], { LINEUP_DB: `postgres://u:${PASSWORD}@127.0.0.1:1/lineup` });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^lineup: cannot reach postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/lineup: .*ECONNREFUSED.*\n$/);
      expect(result.stderr).not.toContain(PASSWORD);
    } finally {
      cleanup();
    }
  });
});
