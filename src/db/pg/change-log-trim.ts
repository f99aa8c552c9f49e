import type pg from 'pg';
import { numbered } from './placeholders.js';
import { TRIM_CHANGE_LOG } from './subscriber-store.js';

/**
 * Taken for each batch of the server's change-log trim, so that one node trims at a time: the
 * others find it held and leave the log to it. A constant, so that psql can see or take it.
 * @internal Exported for the tests that hold it.
 */
export const TRIM_LOCK = '7651302094212641796';

const TRIM = numbered(TRIM_CHANGE_LOG);

/**
 * One batch of the change log's trim on the node's pool (jobs/change-log-trim.ts): deletes the
 * oldest rows, at most `limit`, below the last sequence number less `keep`, in a transaction that
 * holds TRIM_LOCK. Returns the rows deleted; 0 when another node holds the lock.
 */
export async function trimPostgresChangeLog(pool: pg.Pool, keep: number, limit: number): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ taken: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS taken', [TRIM_LOCK]);
      const deleted = rows[0]?.taken ? ((await client.query(TRIM, [keep, limit])).rowCount ?? 0) : 0;
      await client.query('COMMIT');
      return deleted;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    client.release();
  }
}
