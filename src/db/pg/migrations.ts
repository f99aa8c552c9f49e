import type pg from 'pg';
import { BASELINE_SCHEMA_VERSION, BASELINE_SQL } from './baseline.js';

/**
 * PostgreSQL's migrations. The first step makes the whole schema as SQLite's stood at its
 * migration BASELINE_SCHEMA_VERSION; each later step has the number of the SQLite step it matches:
 * a schema change is appended to both lists (src/db/migrations.ts and this one) with the same
 * number, and the schema parity test holds the two to the same tables, columns and version. The
 * version lives in the one-row table lineup_schema. Append; never edit a step that has shipped.
 */
const migrations: readonly string[] = [
  /* 1 … 12 at once */ BASELINE_SQL,
  /* 13: an XC login's own columns log a change too (SQLite's step 13) */ `
-- What an Xtream Codes login reads of a subscriber besides the access columns: its password's
-- hash (a rotation, or the XC login taken away) and its creation time. A subscriber whose access
-- columns changed too is logged by both triggers, as in SQLite.
CREATE FUNCTION subscribers_log_xc_login_changes() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  ids bigint[];
BEGIN
  SELECT array_agg(DISTINCT id) INTO ids FROM (
    SELECT id, xc_password_hash, created_at FROM old_rows EXCEPT SELECT id, xc_password_hash, created_at FROM new_rows
  ) changed;
  PERFORM subscriber_changes_log(ids);
  RETURN NULL;
END $$;
CREATE TRIGGER subscribers_xc_login_update_logs_change AFTER UPDATE ON subscribers REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION subscribers_log_xc_login_changes();
`,
];

/** The schema version this Lineup brings a PostgreSQL database to: SQLite's LATEST_SCHEMA_VERSION. */
export const LATEST_POSTGRES_SCHEMA_VERSION = BASELINE_SCHEMA_VERSION + migrations.length - 1;

/**
 * Every Lineup that migrates takes this transaction-level advisory lock first, so that nodes
 * starting at once queue, and the later ones find nothing left to do. A constant, so that psql
 * can take it too: SELECT pg_advisory_lock(7651302094212641793).
 */
const MIGRATION_LOCK = '7651302094212641793';

interface Migrated {
  from: number;
  to: number;
  /** What the server warned of while migrating (lineup_compat left off the search_path, say). */
  warnings: string[];
}

/** The version under the lock, after making the version table if this is a new database. */
async function lockedVersion(client: pg.ClientBase): Promise<number> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
  const made = await client.query<{ made: boolean }>("SELECT to_regclass('lineup_schema') IS NOT NULL AS made");
  if (made.rows[0]!.made) {
    const { rows } = await client.query<{ version: number }>('SELECT version FROM lineup_schema WHERE id = 1');
    const version = rows[0]?.version ?? 0;
    if (version !== 0 && version < BASELINE_SCHEMA_VERSION)
      throw new Error(`lineup_schema says version ${version}, which no Lineup writes`);
    return version;
  }
  // Migrating a database that holds another program's tables would mix Lineup's into it.
  const tables = await client.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM information_schema.tables WHERE table_schema = current_schema()',
  );
  const count = tables.rows[0]!.count;
  if (count > 0) throw new Error(`it is a PostgreSQL database but not Lineup's (${count} tables, no lineup_schema)`);
  await client.query('CREATE TABLE lineup_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)');
  await client.query('INSERT INTO lineup_schema (id, version) VALUES (1, 0)');
  return 0;
}

/**
 * Brings the schema up to date, each step in its own transaction under the migration lock.
 * Refuses a schema newer than this Lineup's, as SQLite does.
 */
export async function migratePostgres(pool: pg.Pool): Promise<Migrated> {
  const client = await pool.connect();
  const warnings: string[] = [];
  const onNotice = (notice: { severity?: string; message?: string }) => {
    if (notice.severity === 'WARNING' && notice.message) warnings.push(notice.message);
  };
  client.on('notice', onNotice);
  let from: number | undefined;
  try {
    for (;;) {
      await client.query('BEGIN');
      try {
        const version = await lockedVersion(client);
        from ??= version;
        if (version > LATEST_POSTGRES_SCHEMA_VERSION) {
          throw new Error(`database schema version ${version} is newer than this Lineup (${LATEST_POSTGRES_SCHEMA_VERSION})`);
        }
        if (version === LATEST_POSTGRES_SCHEMA_VERSION) {
          await client.query('COMMIT');
          return { from, to: version, warnings };
        }
        const next = version === 0 ? BASELINE_SCHEMA_VERSION : version + 1;
        await client.query(migrations[next - BASELINE_SCHEMA_VERSION]!);
        await client.query('UPDATE lineup_schema SET version = $1 WHERE id = 1', [next]);
        await client.query('COMMIT');
      } catch (error) {
        // A lost connection cannot roll back: the server does; the first error is the one to tell.
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    }
  } finally {
    client.off('notice', onNotice);
    client.release();
  }
}
