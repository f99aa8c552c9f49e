import { describe, expect, it } from 'vitest';
import { splitPostgresScript } from '../../src/db/pg/script-statements.js';

const split = (script: string) => splitPostgresScript('f.sql', script);

async function refusal(script: string): Promise<string> {
  const error = await split(script).then(
    () => undefined,
    (failure: Error) => failure,
  );
  expect(error).toBeInstanceOf(Error);
  return error!.message;
}

describe('PostgreSQL scripts are cut by PostgreSQL’s own parser', () => {
  it('when a function body is dollar-quoted ($$ or $tag$) with semicolons inside, then it is one statement', async () => {
    const statements = await split(`CREATE FUNCTION a() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
CREATE FUNCTION b() RETURNS int LANGUAGE plpgsql AS $body$
DECLARE x int;
BEGIN x := 2; RETURN x; END
$body$;
SELECT a() + b();`);
    expect(statements.map((statement) => statement.line)).toEqual([1, 2, 6]);
    expect(statements[1]!.sql).toMatch(/^CREATE FUNCTION b\(\)[\s\S]*\$body\$$/);
    expect(statements[2]!.sql).toBe('SELECT a() + b()');
  });

  it("when ; sits in E'…' escapes, quoted names and nested comments, then it does not cut, and lines count past multibyte text", async () => {
    const statements = await split(`-- héllo, ünïcode: ✓
SELECT E'it\\'s; fine', "odd;name" FROM t; /* outer /* inner; */ still; */
  -- a comment before the next one

UPDATE t SET n = 'é;' WHERE true;`);
    expect(statements).toEqual([
      { sql: `SELECT E'it\\'s; fine', "odd;name" FROM t`, line: 2 },
      { sql: "UPDATE t SET n = 'é;' WHERE true", line: 5 },
    ]);
  });

  it('when a file has BEGIN/COMMIT, then they are skipped; a ROLLBACK is refused', async () => {
    const statements = await split('BEGIN;\nSELECT 1;\nCOMMIT;\nROLLBACK;');
    expect(statements.map((statement) => statement.transaction)).toEqual(['skip', undefined, 'skip', 'refuse']);
  });
});

describe('SQLite syntax on PostgreSQL: the error names the PostgreSQL form and the line', () => {
  it.each([
    [
      "INSERT OR IGNORE INTO packages (name) VALUES ('x');",
      'f.sql:3: INSERT OR IGNORE is SQLite syntax: on PostgreSQL write INSERT … ON CONFLICT DO NOTHING',
    ],
    [
      "insert or replace into packages (name) values ('x');",
      'f.sql:3: INSERT OR REPLACE is SQLite syntax: on PostgreSQL write INSERT … ON CONFLICT (…) DO UPDATE SET …',
    ],
    [
      "REPLACE INTO packages (name) VALUES ('x');",
      'f.sql:3: REPLACE INTO is SQLite syntax: on PostgreSQL write INSERT … ON CONFLICT (…) DO UPDATE SET …',
    ],
    ["SELECT id FROM channels WHERE stream GLOB 'live/*';", 'f.sql:3: GLOB is SQLite syntax'],
    ['PRAGMA foreign_keys = ON;', 'f.sql:3: PRAGMA is SQLite syntax and has no PostgreSQL form'],
    ['BEGIN IMMEDIATE;', 'f.sql:3: BEGIN IMMEDIATE is SQLite syntax and not needed on PostgreSQL'],
  ])('when a file says %s, then it is refused naming what to write', async (statement, expected) => {
    expect(await refusal(`SELECT 1;\n-- then:\n${statement}\nSELECT 2;`)).toContain(expected);
  });

  it('when multibyte text comes before the fault, then the line and the idiom are still found (the parser counts characters there)', async () => {
    expect(await refusal("SELECT 'é✓😀😀';\n-- ünïcode\nINSERT OR IGNORE INTO x VALUES (1);")).toBe(
      'f.sql:3: INSERT OR IGNORE is SQLite syntax: on PostgreSQL write INSERT … ON CONFLICT DO NOTHING',
    );
  });

  it('when a string is left unterminated, then the error names the line and repeats nothing of it', async () => {
    const message = await refusal("SELECT 1;\nUPDATE origins SET secret = 'TOPSECRET-KEY WHERE name = 'x';\nSELECT 'a");
    expect(message).toMatch(/^f\.sql:\d+: /);
    expect(message).not.toContain('TOPSECRET');
    const unterminated = await refusal("SELECT 1;\n\nUPDATE origins SET secret = 'TOPSECRET-KEY");
    expect(unterminated).toBe("f.sql:3: unterminated string: a closing ' is missing");
  });
});
