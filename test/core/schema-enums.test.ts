import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../../src/db/open.js';
import { HASH_SUBJECTS, IP_BINDINGS, LINK_MODES, SIGNING_SCHEMES } from '../../src/signing/origin.js';

// Each enum is a CHECK (column IN (...)) list in `origins` and a const array in code; migrations
// that shipped cannot be edited, so this is what keeps the two from drifting apart.
const ENUMS: ReadonlyArray<{ column: string; values: readonly string[] }> = [
  { column: 'scheme', values: SIGNING_SCHEMES },
  { column: 'hash_subject', values: HASH_SUBJECTS },
  { column: 'ip_binding', values: IP_BINDINGS },
  { column: 'link_mode', values: LINK_MODES },
];

let dir: string;
let db: Db;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lineup-enums-'));
  db = openDatabase(join(dir, 'lineup.db'));
});
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The quoted values of `column IN ('a', 'b')` in the table's CREATE statement as SQLite holds it now. */
function checkList(table: string, column: string): string[] {
  const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck().get(table) as string;
  const lists = [...sql.matchAll(new RegExp(`\\b${column}\\s+IN\\s*\\(([^)]*)\\)`, 'gi'))].map((match) => match[1]!);
  expect(lists, `one CHECK (${column} IN (...)) in ${table}`).toHaveLength(1);
  return [...lists[0]!.matchAll(/'([^']*)'/g)].map((match) => match[1]!);
}

/** Inserts an origin with `column = value` and undoes it; returns the error SQLite raised, if any. */
function tryOrigin(column: string, value: string): string | undefined {
  db.exec('BEGIN');
  try {
    db.prepare(`INSERT INTO origins (name, base_url, secret, ${column}) VALUES ('probe', 'http://origin.test', 'secret', ?)`).run(value);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  } finally {
    db.exec('ROLLBACK');
  }
}

describe('enum values in code and in the schema', () => {
  for (const { column, values } of ENUMS) {
    it(`when the origins.${column} CHECK list is read from the migrated schema, then it holds exactly the values declared in code`, () => {
      expect(checkList('origins', column).sort()).toEqual([...values].sort());
    });

    it(`when origins.${column} is written with each declared value, then SQLite accepts them all and refuses any other`, () => {
      expect(values.map((value) => [value, tryOrigin(column, value)])).toEqual(values.map((value) => [value, undefined]));
      expect(tryOrigin(column, 'not-a-value')).toBe('SQLITE_CONSTRAINT_CHECK');
    });
  }
});
