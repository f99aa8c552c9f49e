import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_FIELDS, type ChannelValueColumns, type ChannelValues } from '../../src/channels/channel-fields.js';
import { fromColumns, toColumnValues, VALUE_PARAMETERS, valueColumnList } from '../../src/db/channel-columns.js';
import { type Db, openDatabase } from '../../src/db/open.js';

let dir: string;
let db: Db;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lineup-fields-'));
  db = openDatabase(join(dir, 'lineup.db'));
});
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What the table declares each column to be, in the terms PRAGMA table_info uses. */
const expectedColumn = (kind: string) => ({ type: kind === 'text' ? 'TEXT' : 'INTEGER', notnull: kind === 'integerOrNull' ? 0 : 1 });

describe('the channel field table', () => {
  for (const table of ['channels', 'channel_imports']) {
    it(`when it is compared with the migrated ${table} table, then every field has a column of its type and nullability`, () => {
      const columns = new Map(
        (
          db.prepare(`SELECT name, type, "notnull" FROM pragma_table_info(?)`).all(table) as Array<{
            name: string;
            type: string;
            notnull: number;
          }>
        ).map(({ name, type, notnull }) => [name, { type, notnull }]),
      );
      for (const [field, { column, kind }] of Object.entries(CHANNEL_FIELDS)) {
        expect(columns.get(column), `${field} → ${table}.${column}`).toEqual(expectedColumn(kind));
      }
    });
  }

  it('when values are written with the derived INSERT and read back with the derived SELECT, then they come back equal, radio as a boolean', () => {
    const values: ChannelValues[] = [
      { name: 'Radio 4', number: null, groupTitle: 'Radio', logo: 'https://l/r4.png', tvgId: 'r4.uk', catchupDays: 0, radio: true },
      { name: 'News', number: 7, groupTitle: '', logo: '', tvgId: '', catchupDays: 3, radio: false },
    ];
    db.exec('BEGIN');
    try {
      const insert = db.prepare(`INSERT INTO channels (stream, ${valueColumnList()}) VALUES (?, ${VALUE_PARAMETERS})`);
      values.forEach((value, index) => {
        insert.run(`s${index}`, ...toColumnValues(value));
      });
      const rows = db
        .prepare(`SELECT ${valueColumnList('c')} FROM channels c WHERE c.stream IN ('s0', 's1') ORDER BY c.stream`)
        .all() as ChannelValueColumns[];
      expect(rows.map((row) => row.radio)).toEqual([1, 0]);
      expect(rows.map(fromColumns)).toEqual(values);
    } finally {
      db.exec('ROLLBACK');
    }
  });
});
