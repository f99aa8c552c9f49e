import { ConfigError } from '../../errors.js';
import { openPostgresPool } from './connection.js';
import { migratePostgres } from './migrations.js';
import { loggablePostgresUrl } from './url.js';

/** What a PostgreSQL error says, with a hint where the operator's next step is known. */
function reason(error: unknown): string {
  const { code, message } = error as { code?: string; message: string };
  if (code === '3D000') return `${message} (create it first: createdb, or CREATE DATABASE)`;
  return message;
}

/**
 * Migrates the PostgreSQL database at `url` (`lineup init`): safe to run from several nodes at
 * once. Its errors are one line naming LINEUP_DB, never its password.
 */
export async function migratePostgresDatabase(url: string): Promise<{ from: number; to: number; warnings: string[] }> {
  const pool = openPostgresPool(url, { max: 1 });
  try {
    return await migratePostgres(pool);
  } catch (error) {
    throw new ConfigError(`LINEUP_DB: cannot migrate ${loggablePostgresUrl(url)}: ${reason(error)}`);
  } finally {
    await pool.end();
  }
}
