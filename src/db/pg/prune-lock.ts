import type { SyncPostgresClient } from './sync-client.js';

/**
 * The session-level advisory lock that makes a prune run once across every node on the database
 * ("lineup:prune"). A constant, so that an operator can see it in pg_locks (objid) or take it
 * from psql: SELECT pg_try_advisory_lock(7651302094212641794). The server's prune job must take
 * the same one.
 * @internal Exported for the tests that hold it.
 */
export const PRUNE_LOCK = '7651302094212641794';

/**
 * Runs `run` holding the prune lock, and releases it after; returns undefined at once, running
 * nothing, when another session (another node's prune) holds it. A connection that dies releases
 * it too.
 */
export function whilePruneLockHeld<T>(db: SyncPostgresClient, run: () => T): T | undefined {
  const [{ taken }] = db.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1) AS taken', [PRUNE_LOCK]).rows as [{ taken: boolean }];
  if (!taken) return undefined;
  try {
    return run();
  } finally {
    db.query('SELECT pg_advisory_unlock($1)', [PRUNE_LOCK]);
  }
}
