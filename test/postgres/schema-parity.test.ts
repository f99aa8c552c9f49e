import Database from 'better-sqlite3';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LATEST_SCHEMA_VERSION, migrate } from '../../src/db/migrations.js';
import { openPostgresPool } from '../../src/db/pg/connection.js';
import { LATEST_POSTGRES_SCHEMA_VERSION, migratePostgres, POSTGRES_ONLY_TABLES } from '../../src/db/pg/migrations.js';
import { describePostgres, freshDatabase } from '../helpers/postgres.js';

/** One table as both catalogs can describe it: what a script or a store can tell apart. */
interface TableShape {
  columns: string[];
  uniques: string[];
  indexes: string[];
  foreignKeys: string[];
}
type Catalog = Record<string, TableShape>;

const column = (name: string, notNull: boolean, hasDefault: boolean) =>
  `${name}${notNull ? ' NOT NULL' : ''}${hasDefault ? ' DEFAULT' : ''}`;
const unique = (columns: string[], partial: boolean) => `(${columns.join(', ')})${partial ? ' WHERE …' : ''}`;

/** SQLite's catalog, from its pragmas. */
function sqliteCatalog(db: Database.Database): Catalog {
  const tables = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .pluck()
    .all() as string[];
  const catalog: Catalog = {};
  for (const table of tables) {
    const info = db.prepare('SELECT name, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid').all(table) as {
      name: string;
      notnull: number;
      dflt_value: string | null;
      pk: number;
    }[];
    const primaryKey = info
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name);
    const indexList = db.prepare('SELECT name, "unique", origin, partial FROM pragma_index_list(?)').all(table) as {
      name: string;
      unique: number;
      origin: string;
      partial: number;
    }[];
    const columnsOf = (index: string) => db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck().all(index) as string[];
    const uniques = new Set([unique(primaryKey, false)]);
    for (const index of indexList.filter((i) => i.unique)) uniques.add(unique(columnsOf(index.name), index.partial === 1));
    const indexes = indexList
      .filter((i) => i.origin === 'c')
      .map((i) => `${i.name} ${i.unique ? 'UNIQUE ' : ''}${unique(columnsOf(i.name), i.partial === 1)}`);
    const keys = db
      .prepare('SELECT id, "table", "from", "to", on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq')
      .all(table) as { id: number; table: string; from: string; to: string; on_update: string; on_delete: string }[];
    const foreignKeys = [...new Set(keys.map((k) => k.id))].map((id) => {
      const parts = keys.filter((k) => k.id === id);
      const first = parts[0]!;
      return `(${parts.map((k) => k.from).join(', ')}) → ${first.table} (${parts.map((k) => k.to).join(', ')}) ON UPDATE ${first.on_update} ON DELETE ${first.on_delete}`;
    });
    catalog[table] = {
      columns: info.map((c) => column(c.name, c.notnull === 1 || c.pk > 0, c.dflt_value !== null)),
      uniques: [...uniques].sort(),
      indexes: indexes.sort(),
      foreignKeys: foreignKeys.sort(),
    };
  }
  return catalog;
}

const ACTIONS: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

/** PostgreSQL's catalog of the schema the migrations made, lineup_schema (SQLite's user_version) aside. */
async function postgresCatalog(client: pg.ClientBase): Promise<Catalog> {
  const tables = await client.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'lineup_schema' ORDER BY 1`,
  );
  const catalog: Catalog = {};
  for (const { name: table } of tables.rows) {
    const columns = await client.query<{ name: string; nullable: string; fallback: string | null }>(
      `SELECT column_name AS name, is_nullable AS nullable, column_default AS fallback FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    const indexes = await client.query<{ name: string; unique: boolean; partial: boolean; constraint: boolean; columns: string[] }>(
      `SELECT c.relname AS name, i.indisunique AS unique, i.indpred IS NOT NULL AS partial,
              EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS constraint,
              ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n)::text[] AS columns
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = $1::regclass`,
      [table],
    );
    const keys = await client.query<{ columns: string[]; parent: string; parentColumns: string[]; onUpdate: string; onDelete: string }>(
      `SELECT ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS c(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = c.attnum ORDER BY c.n)::text[] AS columns,
              k.confrelid::regclass::text AS parent,
              ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY AS c(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = c.attnum ORDER BY c.n)::text[] AS "parentColumns",
              k.confupdtype AS "onUpdate", k.confdeltype AS "onDelete"
         FROM pg_constraint k WHERE k.contype = 'f' AND k.conrelid = $1::regclass`,
      [table],
    );
    catalog[table] = {
      columns: columns.rows.map((c) => column(c.name, c.nullable === 'NO', c.fallback !== null)),
      uniques: [...new Set(indexes.rows.filter((i) => i.unique).map((i) => unique(i.columns, i.partial)))].sort(),
      indexes: indexes.rows
        .filter((i) => !i.constraint)
        .map((i) => `${i.name} ${i.unique ? 'UNIQUE ' : ''}${unique(i.columns, i.partial)}`)
        .sort(),
      foreignKeys: keys.rows
        .map(
          (k) =>
            `(${k.columns.join(', ')}) → ${k.parent} (${k.parentColumns.join(', ')}) ON UPDATE ${ACTIONS[k.onUpdate]} ON DELETE ${ACTIONS[k.onDelete]}`,
        )
        .sort(),
    };
  }
  return catalog;
}

describePostgres('schema parity between SQLite and PostgreSQL', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = openPostgresPool(await freshDatabase());
  });
  afterAll(() => pool?.end());

  it('when both backends are migrated, then they have the same tables, columns, nullability, defaults, uniques, indexes and foreign keys', async () => {
    const sqlite = new Database(':memory:');
    migrate(sqlite);
    const expected = sqliteCatalog(sqlite);
    sqlite.close();
    await migratePostgres(pool);
    const client = await pool.connect();
    try {
      const actual = await postgresCatalog(client);
      // Sessions: SQLite keeps them in a file of its own, so that viewers coming and going never
      // move the lineup database's data_version; PostgreSQL keeps them in a table every node shares.
      expect(Object.keys(actual)).toEqual(expect.arrayContaining([...POSTGRES_ONLY_TABLES]));
      for (const table of POSTGRES_ONLY_TABLES) delete actual[table];
      expect(Object.keys(expected).length).toBeGreaterThan(15);
      expect(actual).toEqual(expected);
    } finally {
      client.release();
    }
  });

  it('when both backends are migrated, then both are at the same schema version', async () => {
    const sqlite = new Database(':memory:');
    migrate(sqlite);
    const sqliteVersion = sqlite.pragma('user_version', { simple: true });
    sqlite.close();
    await migratePostgres(pool);
    const { rows } = await pool.query<{ version: number }>('SELECT version FROM lineup_schema');
    expect(sqliteVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(LATEST_POSTGRES_SCHEMA_VERSION).toBe(LATEST_SCHEMA_VERSION);
    expect(rows).toEqual([{ version: LATEST_SCHEMA_VERSION }]);
  });
});
