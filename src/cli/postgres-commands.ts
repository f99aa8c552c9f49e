import { isPostgresUrl } from '../db/pg/url.js';
import { ConfigError } from '../errors.js';

/**
 * SQLite's own file commands, and what to use on PostgreSQL instead (naming no URL: it may hold a
 * password). Every other command runs on either backend.
 */
const SQLITE_ONLY: Readonly<Record<string, string>> = {
  'db backup':
    'back up with pg_dump -Fc DBNAME > FILE (restored with pg_restore), or to an SQLite file with lineup db copy --from URL --to FILE',
  'db restore':
    'restore a pg_dump -Fc file with pg_restore, or an SQLite backup with lineup db copy --from FILE --to URL (an empty database)',
};

/**
 * Refuses `words` (the command and its arguments) when LINEUP_DB names PostgreSQL and the command
 * is one of SQLite's file commands, in one line saying what to use instead.
 */
export function refuseUnlessRunsOnPostgres(words: readonly string[], env: NodeJS.ProcessEnv): void {
  if (!isPostgresUrl(env.LINEUP_DB ?? '')) return;
  const typed = words.join(' ');
  const sqliteOnly = Object.keys(SQLITE_ONLY).find((command) => typed === command || typed.startsWith(`${command} `));
  if (sqliteOnly) {
    throw new ConfigError(`lineup ${sqliteOnly} is SQLite's (LINEUP_DB is a postgres:// URL): ${SQLITE_ONLY[sqliteOnly]}`);
  }
}
