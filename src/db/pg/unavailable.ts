import type pg from 'pg';
import { UnavailableError } from '../../errors.js';
import type { QueryReads } from './subscriber-access-store.js';

/**
 * Reads whose failure is the database's, never the request's: the lookups' statements are fixed,
 * so an error is PostgreSQL down, restarting, refusing connections or out of them. A request then
 * gets a 503 with Retry-After, as a busy SQLite file gives, not a 500; the log keeps the driver's
 * code and message (which name no password).
 */
export function unavailableOnFailure(reads: QueryReads): QueryReads {
  return {
    query: <R extends pg.QueryResultRow>(config: pg.QueryConfig) =>
      reads.query<R>(config).catch((error: unknown) => {
        const { code, message } = error as { code?: string; message?: string };
        throw Object.assign(new UnavailableError('Database unavailable, try again shortly'), { code, cause: message });
      }),
  };
}
