import { isPostgresUrl } from '../db/pg/url.js';
import { ConfigError } from '../errors.js';

/**
 * The commands that run on PostgreSQL (LINEUP_DB=postgres://…), as typed after `lineup`: the one
 * list to extend as commands are ported. Every other command refuses PostgreSQL with one line.
 */
const POSTGRES_COMMANDS: readonly string[] = [
  'init',
  'serve',
  'sql',
  'db copy',
  'subscriber',
  'prune',
  'import',
  'lint',
  'render',
  'report',
  'demo',
];

/** SQLite's own file commands, and what to use on PostgreSQL instead (naming no URL: it may hold a password). */
const SQLITE_ONLY: Readonly<Record<string, string>> = {
  'db backup':
    'back up with pg_dump -Fc DBNAME > FILE (restored with pg_restore), or to an SQLite file with lineup db copy --from URL --to FILE',
  'db restore':
    'restore a pg_dump -Fc file with pg_restore, or an SQLite backup with lineup db copy --from FILE --to URL (an empty database)',
};

/**
 * Refuses `words` (the command and its arguments) when LINEUP_DB names PostgreSQL and the command
 * does not run there yet. The line names neither the URL nor its password.
 */
export function refuseUnlessRunsOnPostgres(words: readonly string[], env: NodeJS.ProcessEnv): void {
  if (!isPostgresUrl(env.LINEUP_DB ?? '')) return;
  const typed = words.join(' ');
  if (POSTGRES_COMMANDS.some((command) => typed === command || typed.startsWith(`${command} `))) return;
  const sqliteOnly = Object.keys(SQLITE_ONLY).find((command) => typed === command || typed.startsWith(`${command} `));
  if (sqliteOnly) {
    throw new ConfigError(`lineup ${sqliteOnly} is SQLite's (LINEUP_DB is a postgres:// URL): ${SQLITE_ONLY[sqliteOnly]}`);
  }
  // `db backup` rather than `db` where `db copy` runs; a file or an option is never named.
  const withSubcommand = POSTGRES_COMMANDS.some((command) => command.startsWith(`${words[0]} `));
  const name = words.slice(0, withSubcommand && words[1] && !words[1].startsWith('-') ? 2 : 1).join(' ');
  throw new ConfigError(
    `lineup ${name} does not run on PostgreSQL yet (LINEUP_DB is a postgres:// URL); the commands that do: ${POSTGRES_COMMANDS.map((command) => `lineup ${command}`).join(', ')}`,
  );
}
