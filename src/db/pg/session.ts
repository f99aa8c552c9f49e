import type pg from 'pg';
import { ConfigError } from '../../errors.js';
import { openPostgresPool } from './connection.js';
import { loggablePostgresUrl } from './url.js';

/**
 * Runs `body` on one connection to the PostgreSQL database `url` names, and closes it whatever
 * happens. A server that cannot be reached is one line naming it, its password left out.
 */
export async function withPostgresClient<T>(url: string, body: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  const pool = openPostgresPool(url, { max: 1 });
  try {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw new ConfigError(`cannot reach ${loggablePostgresUrl(url)}: ${(error as Error).message}`);
    }
    try {
      return await body(client);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}
