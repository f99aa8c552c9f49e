import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINEUP_BIN } from '../build-once.js';
import { startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { applySql } from './support.js';

let lineup: TestLineup;
beforeAll(async () => {
  lineup = await startTestLineup();
  await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('base', 'Base', 1);");
});
afterAll(() => lineup.close());

function snapshot(dbPath = lineup.dbPath) {
  const db = new Database(dbPath, { readonly: true });
  try {
    const count = (table: string) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    return {
      channels: count('channels'),
      packages: count('packages'),
      triggers: count("sqlite_schema WHERE type = 'trigger'"),
      names: db.prepare('SELECT name FROM channels ORDER BY id').pluck().all(),
    };
  } finally {
    db.close();
  }
}

function script(name: string, text: string): string {
  const file = join(lineup.dir, name);
  writeFileSync(file, text);
  return file;
}

describe('lineup sql: all or nothing, errors name file:line', () => {
  it('when a statement fails after others succeeded, then nothing of the file is applied and the line is named', async () => {
    const before = snapshot();
    const file = script(
      'tricky.sql',
      [
        '-- a comment on line 1',
        '',
        "INSERT INTO channels (stream, name) VALUES ('a;b', 'semicolon -- in a string');",
        '/* a block',
        '   comment; with a semicolon */',
        "INSERT INTO channels (stream, name) VALUES ('ml', 'multi",
        'line',
        "string; it''s long');",
        'CREATE TRIGGER keep_names AFTER INSERT ON channels BEGIN',
        "  UPDATE channels SET name = name || '' WHERE id = NEW.id;",
        'END;',
        "INSERT INTO packages (name) VALUES ('gold');",
        '',
        '   INSERT INTO no_such_table VALUES (1);',
        "INSERT INTO channels (stream, name) VALUES ('never', 'Never');",
      ].join('\n'),
    );
    const result = await lineup.cli(['sql', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`lineup: ${file}:14: no such table: no_such_table\n`);
    expect(snapshot()).toEqual(before);
  });

  it('when a constraint fails on a later line, then that line is named and the earlier rows are rolled back', async () => {
    const before = snapshot();
    const file = script(
      'check.sql',
      "INSERT INTO channels (stream, name) VALUES ('ok1', 'Ok');\n\nINSERT INTO channels (stream, name)\n  VALUES ('/leading', 'Bad');\n",
    );
    const result = await lineup.cli(['sql', file]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(new RegExp(`^lineup: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: CHECK constraint failed`));
    expect(snapshot()).toEqual(before);
  });

  it('when the same tricky file has no error, then every statement applies, the trigger included', async () => {
    const file = script(
      'good.sql',
      "-- c\nINSERT INTO channels (stream, name) VALUES ('a;b', 'x -- y');\nCREATE TRIGGER t2 AFTER INSERT ON channels BEGIN\n  SELECT 1;\n  SELECT 2;\nEND;\nINSERT INTO channels (stream, name) VALUES ('ml', 'multi\nline');\n",
    );
    const before = snapshot();
    const result = await lineup.cli(['sql', file]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${file}: 3 statements, 2 rows changed`);
    const after = snapshot();
    expect(after.channels).toBe(before.channels + 2);
    expect(after.triggers).toBe(before.triggers + 1);
  });

  it('when the file holds its own BEGIN/COMMIT, then they are skipped and the file is still one transaction', async () => {
    const ok = script('txn-ok.sql', "BEGIN TRANSACTION;\nINSERT INTO packages (name) VALUES ('silver');\nCOMMIT;\n");
    const okResult = await lineup.cli(['sql', ok]);
    expect(okResult.code).toBe(0);
    expect(okResult.stdout).toContain(`${ok}: 1 statement, 1 row changed\n`);

    const before = snapshot();
    const bad = script(
      'txn-bad.sql',
      "BEGIN;\nINSERT INTO packages (name) VALUES ('bronze');\nCOMMIT;\nINSERT INTO packages (name) VALUES ('silver');\nEND;\n",
    );
    const badResult = await lineup.cli(['sql', bad]);
    expect(badResult.code).toBe(1);
    expect(badResult.stderr).toContain(`${bad}:4: UNIQUE constraint failed`);
    expect(snapshot()).toEqual(before);
  });

  it('when the file holds a ROLLBACK, then it is refused, naming the line, and nothing applies', async () => {
    const before = snapshot();
    const file = script('rollback.sql', "INSERT INTO packages (name) VALUES ('tin');\nROLLBACK;\n");
    const result = await lineup.cli(['sql', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}:2: ROLLBACK`);
    expect(snapshot()).toEqual(before);
  });

  it('when several files are given and the second fails, then the first stays applied and the second does not', async () => {
    const before = snapshot();
    const first = script('first.sql', "INSERT INTO packages (name) VALUES ('first');");
    const second = script('second.sql', "INSERT INTO packages (name) VALUES ('second');\nINSERT INTO packages (name) VALUES ('first');");
    const result = await lineup.cli(['sql', first, second]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${second}:2:`);
    expect(snapshot().packages).toBe(before.packages + 1);
  });

  it('when a script deletes a package that holds channels, then one line names the file and line and says what to do first', async () => {
    await applySql(
      lineup,
      "INSERT INTO packages (name) VALUES ('x');\n" +
        "INSERT INTO package_channels SELECT p.id, c.id FROM packages p, channels c WHERE p.name = 'x' AND c.stream = 'base';\n",
    );
    const before = snapshot();
    const file = script(
      'drop-package.sql',
      "UPDATE channels SET name = 'Renamed' WHERE stream = 'base';\nDELETE FROM packages WHERE name = 'x';\n",
    );
    const result = await lineup.cli(['sql', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `lineup: ${file}:2: FOREIGN KEY constraint failed: a package that still holds channels cannot be deleted; delete its package_channels rows first\n`,
    );
    expect(snapshot()).toEqual(before);

    const advised = script(
      'drop-package-advised.sql',
      "DELETE FROM package_channels WHERE package_id = (SELECT id FROM packages WHERE name = 'x');\nDELETE FROM packages WHERE name = 'x';\n",
    );
    const followed = await lineup.cli(['sql', advised]);
    expect(followed.stderr).toBe('');
    expect(snapshot().packages).toBe(before.packages - 1);
  });

  it('when a script deletes an origin that channels play from, then the line is named with what to do first', async () => {
    await applySql(
      lineup,
      "INSERT INTO origins (name, base_url, secret) VALUES ('edge9', 'http://edge9.test', 's');\n" +
        "INSERT INTO channels (stream, name, origin) VALUES ('on-edge9', 'On edge9', 'edge9');\n",
    );
    const file = script('drop-origin.sql', "DELETE FROM origins WHERE name = 'edge9';\n");
    const result = await lineup.cli(['sql', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^lineup: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1: FOREIGN KEY constraint failed: an origin that channels still play from cannot be deleted; move those channels`,
      ),
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('when the file does not exist, then exit 2 naming it', async () => {
    const result = await lineup.cli(['sql', join(lineup.dir, 'missing.sql')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`lineup: ${join(lineup.dir, 'missing.sql')}: no such file\n`);
  });
});

/** Resolves once `check` is true, polling; rejects after `limit` ms so that a hang fails loudly. */
async function until(check: () => boolean, what: string, limit = 30_000): Promise<void> {
  const deadline = Date.now() + limit;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** True while another process holds the write lock (its transaction is open). */
function writeLocked(dbPath: string): boolean {
  const probe = new Database(dbPath, { timeout: 0 });
  try {
    probe.exec('BEGIN IMMEDIATE');
    probe.exec('ROLLBACK');
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return true;
    throw error;
  } finally {
    probe.close();
  }
}

describe('lineup sql killed mid-flight', () => {
  // Its own database and service: a trigger left by the tests above would change how the insert runs.
  let victim: TestLineup;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    victim = await startTestLineup();
    await applySql(victim, "INSERT INTO channels (stream, name, number) VALUES ('base', 'Base', 1);");
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await victim.close();
  });

  it('when a child `lineup sql` is SIGKILLed inside a long insert, then the database is as it was', async () => {
    const before = snapshot(victim.dbPath);
    const file = join(victim.dir, 'huge.sql');
    writeFileSync(
      file,
      "INSERT INTO packages (name) VALUES ('doomed');\n" +
        "INSERT INTO channels (stream, name, number) VALUES ('doomed', 'Doomed', 1);\n" +
        // The bulk goes to a table without row triggers: SQLite builds an INSERT … SELECT into one
        // with them (channels moves lineup_version) in a temporary table first, so that it would
        // not spill into the WAL while it runs.
        'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 50000000)\n' +
        'INSERT INTO pruned_subscribers (username, expires_at, enabled, max_connections, note, created_at, pruned_at)\n' +
        "  SELECT 'bulk' || x, '2020-01-01 00:00:00', 1, 1, '', '2020-01-01 00:00:00', '2020-01-01 00:00:00' FROM n;\n",
    );
    child = spawn(process.execPath, [LINEUP_BIN, 'sql', file], { env: { ...process.env, ...victim.env }, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((done) => child!.on('exit', (_code, signal) => done(signal)));

    await until(() => writeLocked(victim.dbPath), 'the child to open its transaction');
    // Uncommitted pages spill into the WAL once the page cache fills: proof that the insert is under way.
    const wal = `${victim.dbPath}-wal`;
    await until(() => existsSync(wal) && statSync(wal).size > 8 * 1024 * 1024, 'the insert to spill into the WAL');
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    expect(snapshot(victim.dbPath)).toEqual(before);
    const db = new Database(victim.dbPath);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    // and the service, which kept its connection throughout, still answers
    expect((await victim.cli(['subscriber', 'list', '--json'])).code).toBe(0);
  }, 60_000);
});
