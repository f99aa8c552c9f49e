import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { ConfigError } from '../../errors.js';
import { LATEST_SCHEMA_VERSION } from '../migrations.js';
import { assertLineupDatabase, type Db, openDatabase } from '../open.js';
import { openPostgresPool } from './connection.js';
import { migratePostgres, POSTGRES_ONLY_TABLES } from './migrations.js';
import { withPostgresClient } from './session.js';
import { serverReason } from './sql-script.js';
import { loggablePostgresUrl } from './url.js';

/**
 * `lineup db copy`: a whole Lineup database from SQLite to PostgreSQL or back, in one transaction
 * on the target, rows as they are (ids, sealed credentials and keys byte for byte), so that the
 * same subscriber gets the same playlist from either.
 */

/** One-row tables that a migration fills (`CHECK (id = 1)`): the source's row replaces the new one. */
const MIGRATION_ROWS = new Set(['lineup_version', 'lineup_changes', 'subscriber_changes_trimmed']);
/** PostgreSQL takes at most 65,535 parameters in one statement. */
const PARAMETERS_PER_INSERT = 30_000;
const ROWS_PER_FETCH = 5_000;

interface Table {
  name: string;
  columns: string[];
}

export interface CopySummary {
  tables: number;
  rows: number;
  subscribers: number;
  channels: number;
}

const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Lineup's tables in SQLite's catalog, each after the tables its foreign keys name, so that
 * inserting them in this order never meets a missing parent.
 */
function tablesInKeyOrder(db: Db): Table[] {
  const names = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
    .pluck()
    .all() as string[];
  const ordered: Table[] = [];
  const placed = new Set<string>();
  const place = (name: string) => {
    if (placed.has(name)) return;
    placed.add(name);
    const parents = db.prepare('SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)').pluck().all(name) as string[];
    for (const parent of parents) if (parent !== name) place(parent);
    const columns = db.prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid').pluck().all(name) as string[];
    ordered.push({ name, columns });
  };
  for (const name of names) place(name);
  return ordered;
}

/** PostgreSQL's columns of each table (Lineup's schema, less its version table), with their types. */
async function postgresColumns(client: pg.ClientBase): Promise<Map<string, Map<string, string>>> {
  const { rows } = await client.query<{ table_name: string; column_name: string; data_type: string }>(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name <> 'lineup_schema'
       AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')`,
  );
  const tables = new Map<string, Map<string, string>>();
  for (const row of rows) {
    const columns = tables.get(row.table_name) ?? new Map<string, string>();
    columns.set(row.column_name, row.data_type);
    tables.set(row.table_name, columns);
  }
  return tables;
}

/** Both sides at the same schema: the same tables with the same columns, or a line naming the first difference. */
function assertSameTables(tables: Table[], postgres: Map<string, Map<string, string>>): void {
  const sqliteNames = new Set(tables.map((table) => table.name));
  for (const name of postgres.keys())
    if (!sqliteNames.has(name) && !POSTGRES_ONLY_TABLES.has(name))
      throw new ConfigError(`table ${name} is on PostgreSQL only: the schemas differ`);
  for (const { name, columns } of tables) {
    const other = postgres.get(name);
    if (!other) throw new ConfigError(`table ${name} is on SQLite only: the schemas differ`);
    const missing = columns.filter((column) => !other.has(column));
    const extra = [...other.keys()].filter((column) => !columns.includes(column));
    if (missing.length > 0 || extra.length > 0) {
      throw new ConfigError(`table ${name} has other columns on each side (${[...missing, ...extra].join(', ')}): the schemas differ`);
    }
  }
}

/** The first table that holds rows other than a new database's, with its count: the target must be empty. */
async function firstFilledTable(tables: Table[], count: (table: string) => Promise<number> | number): Promise<string | undefined> {
  for (const { name } of tables) {
    if (MIGRATION_ROWS.has(name)) continue;
    const rows = await count(name);
    if (rows > 0) return `${name} has ${rows} row${rows === 1 ? '' : 's'}`;
  }
  return undefined;
}

function summaryOf(tables: Table[], counted: Map<string, number>): CopySummary {
  return {
    tables: tables.length,
    rows: [...counted.values()].reduce((sum, rows) => sum + rows, 0),
    subscribers: counted.get('subscribers') ?? 0,
    channels: counted.get('channels') ?? 0,
  };
}

/** The source file, read-only, checked: Lineup's, sound, and at this Lineup's schema version. */
function openSqliteSource(file: string): Db {
  if (!existsSync(file)) throw new ConfigError(`${file}: no such file`);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    try {
      assertLineupDatabase(db, file, { integrity: true });
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`${file} is not a Lineup database: ${(error as Error).message}`);
    }
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version !== LATEST_SCHEMA_VERSION) {
      throw new ConfigError(
        `${file} has schema version ${version}, this Lineup's is ${LATEST_SCHEMA_VERSION}: ${version < LATEST_SCHEMA_VERSION ? 'run lineup init with LINEUP_DB set to it first' : 'copy it with the Lineup release that wrote it'}`,
      );
    }
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** A failure inside the copy, naming the table and what the server said, never a row's values. */
function copyFailure(table: string, error: unknown): ConfigError {
  if (error instanceof ConfigError) return error;
  return new ConfigError(`table ${table}: ${serverReason(error as Error, '')}; nothing was copied`);
}

/**
 * SQLite → PostgreSQL. The target is migrated, must hold no data, and gets every row in one
 * transaction with its triggers off (the rows they would write, such as categories and the change
 * log, are copied as they are); then each identity moves past the copied ids.
 */
export async function copySqliteToPostgres(file: string, url: string): Promise<CopySummary> {
  const source = openSqliteSource(file);
  const pool = openPostgresPool(url, { max: 1 });
  try {
    try {
      await migratePostgres(pool);
    } catch (error) {
      throw new ConfigError(`cannot migrate ${loggablePostgresUrl(url)}: ${(error as Error).message}`);
    }
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const tables = tablesInKeyOrder(source);
      assertSameTables(tables, await postgresColumns(client));
      const filled = await firstFilledTable(tables, async (table) => {
        const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoted(table)}`);
        return rows[0]!.n;
      });
      if (filled) throw new ConfigError(`${loggablePostgresUrl(url)} is not empty (${filled}): copy into a new database`);
      const counted = new Map<string, number>();
      // One read transaction: the copy is one state of the source, even while a server writes to it.
      source.exec('BEGIN');
      for (const { name } of tables) await client.query(`ALTER TABLE ${quoted(name)} DISABLE TRIGGER USER`);
      for (const table of tables) {
        try {
          counted.set(table.name, await insertFromSqlite(source, client, table));
        } catch (error) {
          throw copyFailure(table.name, error);
        }
      }
      for (const { name } of tables) await client.query(`ALTER TABLE ${quoted(name)} ENABLE TRIGGER USER`);
      await moveIdentitiesPast(source, client);
      await client.query('COMMIT');
      return summaryOf(tables, counted);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  } finally {
    source.close();
    await pool.end();
  }
}

async function insertFromSqlite(source: Db, client: pg.ClientBase, { name, columns }: Table): Promise<number> {
  if (MIGRATION_ROWS.has(name)) await client.query(`DELETE FROM ${quoted(name)}`);
  const perInsert = Math.max(1, Math.floor(PARAMETERS_PER_INSERT / columns.length));
  const columnList = columns.map(quoted).join(', ');
  let batch: unknown[][] = [];
  let rows = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const values = batch.map((_, row) => `(${columns.map((_, column) => `$${row * columns.length + column + 1}`).join(', ')})`);
    await client.query(`INSERT INTO ${quoted(name)} (${columnList}) OVERRIDING SYSTEM VALUE VALUES ${values.join(', ')}`, batch.flat());
    rows += batch.length;
    batch = [];
  };
  const select = source.prepare(`SELECT ${columnList} FROM ${quoted(name)}`).raw();
  for (const row of select.iterate() as Iterable<unknown[]>) {
    batch.push(row);
    if (batch.length >= perInsert) await flush();
  }
  await flush();
  return rows;
}

/**
 * Each identity column's sequence set past the highest copied id, and past SQLite's AUTOINCREMENT
 * high mark (a seq given once and since deleted is never given again), so that the next INSERT,
 * from Lineup or a script, gets a new id.
 */
async function moveIdentitiesPast(source: Db, client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'`,
  );
  const highMarks = new Map(source.prepare('SELECT name, seq FROM sqlite_sequence').raw().all() as Array<[string, number]>);
  for (const { table_name: table, column_name: column } of rows) {
    await client.query(
      `SELECT setval(pg_get_serial_sequence($1, $2), greatest((SELECT max(${quoted(column)}) FROM ${quoted(table)}), $3::bigint, 0) + 1, false)`,
      [quoted(table), column, highMarks.get(table) ?? 0],
    );
  }
}

/** A PostgreSQL value as SQLite stores it: ids as numbers, JSON as its text, flags as 0/1. */
function toSqliteValue(value: unknown, type: string | undefined): unknown {
  if (value === null || Buffer.isBuffer(value)) return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && (type === 'bigint' || type === 'numeric')) return Number(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
}

/**
 * PostgreSQL → SQLite, into a new file (or an empty Lineup one), migrated first. One read
 * transaction on PostgreSQL (REPEATABLE READ: one state, even while nodes write) and one write
 * transaction on the file, with the file's triggers dropped and created again from their own text
 * around the rows, so that the rows they would write (categories, the change log) are the source's.
 */
export async function copyPostgresToSqlite(url: string, file: string): Promise<CopySummary> {
  openDatabase(file, { create: true }).close();
  const target = new Database(file);
  try {
    target.pragma('foreign_keys = ON');
    const tables = tablesInKeyOrder(target);
    const filled = await firstFilledTable(
      tables,
      (table) =>
        target
          .prepare(`SELECT count(*) FROM ${quoted(table)}`)
          .pluck()
          .get() as number,
    );
    if (filled) throw new ConfigError(`${file} is not empty (${filled}): copy into a new file`);
    return await withPostgresClient(url, async (client) => {
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const version = await postgresVersion(client);
        if (version !== LATEST_SCHEMA_VERSION) {
          throw new ConfigError(
            `${loggablePostgresUrl(url)} has schema version ${version}, this Lineup's is ${LATEST_SCHEMA_VERSION}: run lineup init on it first`,
          );
        }
        const types = await postgresColumns(client);
        assertSameTables(tables, types);
        const counted = new Map<string, number>();
        target.exec('BEGIN IMMEDIATE');
        try {
          const triggers = target.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'").all() as Array<{
            name: string;
            sql: string;
          }>;
          for (const { name } of triggers) target.exec(`DROP TRIGGER ${quoted(name)}`);
          for (const table of tables) {
            try {
              counted.set(table.name, await insertFromPostgres(client, target, table, types.get(table.name)!));
            } catch (error) {
              throw copyFailure(table.name, error);
            }
          }
          for (const { sql } of triggers) target.exec(sql);
          await carryHighMarks(client, target);
          target.exec('COMMIT');
        } catch (error) {
          if (target.inTransaction) target.exec('ROLLBACK');
          throw error;
        }
        await client.query('COMMIT');
        return summaryOf(tables, counted);
      } finally {
        await client.query('ROLLBACK').catch(() => {});
      }
    });
  } finally {
    target.close();
  }
}

async function postgresVersion(client: pg.ClientBase): Promise<number> {
  const exists = await client.query<{ made: boolean }>("SELECT to_regclass('lineup_schema') IS NOT NULL AS made");
  if (!exists.rows[0]!.made) return 0;
  const { rows } = await client.query<{ version: number }>('SELECT version FROM lineup_schema WHERE id = 1');
  return rows[0]?.version ?? 0;
}

async function insertFromPostgres(
  client: pg.ClientBase,
  target: Db,
  { name, columns }: Table,
  types: Map<string, string>,
): Promise<number> {
  if (MIGRATION_ROWS.has(name)) target.prepare(`DELETE FROM ${quoted(name)}`).run();
  const columnList = columns.map(quoted).join(', ');
  const insert = target.prepare(`INSERT INTO ${quoted(name)} (${columnList}) VALUES (${columns.map(() => '?').join(', ')})`);
  const cursor = `copy_${name}`;
  await client.query(`DECLARE ${quoted(cursor)} NO SCROLL CURSOR FOR SELECT ${columnList} FROM ${quoted(name)}`);
  let rows = 0;
  for (;;) {
    const batch = await client.query<unknown[]>({ text: `FETCH ${ROWS_PER_FETCH} FROM ${quoted(cursor)}`, rowMode: 'array' });
    for (const row of batch.rows) insert.run(row.map((value, at) => toSqliteValue(value, types.get(columns[at]!))));
    rows += batch.rows.length;
    if (batch.rows.length < ROWS_PER_FETCH) break;
  }
  await client.query(`CLOSE ${quoted(cursor)}`);
  return rows;
}

/** SQLite's AUTOINCREMENT high marks from PostgreSQL's sequences: a seq given there is never given again here. */
async function carryHighMarks(client: pg.ClientBase, target: Db): Promise<void> {
  const marked = target.prepare('SELECT name FROM sqlite_sequence').pluck().all() as string[];
  const autoincrement = target
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'")
    .pluck()
    .all() as string[];
  for (const table of autoincrement) {
    const { rows } = await client.query<{ last: number | null }>(
      `SELECT (SELECT last_value FROM pg_sequences WHERE schemaname = current_schema() AND sequencename = split_part(pg_get_serial_sequence($1, column_name), '.', 2)) AS last
       FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $2 AND is_identity = 'YES'`,
      [quoted(table), table],
    );
    const last = Number(rows[0]?.last ?? 0);
    if (marked.includes(table)) target.prepare('UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?').run(last, table);
    else target.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)').run(table, last);
  }
}
