import { backupDatabase, restoreDatabase } from '../db/backup.js';
import type { CopySummary } from '../db/pg/copy.js';
import { isPostgresUrl, loggablePostgresUrl } from '../db/pg/url.js';
import { type CliIo, type Command, configOf, parseOptions, UsageError, withContext } from './command.js';
import { count } from './plural.js';

const HELP = `lineup db backup FILE
lineup db restore FILE
lineup db copy --from SRC --to DST

backup: copies the database at LINEUP_DB to FILE with SQLite's online backup: one consistent
state, WAL included, safe while the server runs (cp of the file is not). FILE is replaced once the
copy is complete, never left half written.

restore: replaces the database at LINEUP_DB with FILE, a backup. Refused while a server has the
database open (LINEUP_DB.lock holds its pid): stop the server, restore, start it again. FILE is
checked first (quick_check, Lineup's schema), the database it replaces is kept beside it as
LINEUP_DB.before-restore, and the old WAL is removed so that it cannot be replayed over the
restored file.

copy: copies a whole Lineup database between SQLite and PostgreSQL, to move an operator over
(SRC and DST: an SQLite file, or a postgres:// URL; one of each). DST is created or migrated
first and must hold no data; every row goes over in one transaction (on an error, none), ids,
keys and sealed credentials as they are, so that each subscriber's URL and playlist stay the
same; then the next id continues after the copied ones. Stop the server, or copy again, since
writes made after the copy began are not in it. The credentials key file
(CREDENTIALS_KEY_FILE) is not in a database: keep using the same one.

backup and restore are SQLite's: with LINEUP_DB a postgres:// URL, use pg_dump -Fc and
pg_restore, or db copy to and from an SQLite file.`;

/** The one FILE argument, after the action. */
function fileArgument(argv: string[], action: string): string {
  const { positionals } = parseOptions(argv, {});
  if (positionals.length !== 1) throw new UsageError(`db ${action}: expected one FILE, got ${positionals.length}`);
  return positionals[0]!;
}

const held = (counts: { subscribers: number; channels: number }) =>
  `${count(counts.subscribers, 'subscriber')}, ${count(counts.channels, 'channel')}`;

async function backup(argv: string[], io: CliIo): Promise<number> {
  const file = fileArgument(argv, 'backup');
  const counts = await withContext(io, ({ db, config }) => backupDatabase(db, config.dbPath, file));
  io.stdout(`Backed up to ${file}: ${held(counts)}\n`);
  return 0;
}

async function restore(argv: string[], io: CliIo): Promise<number> {
  const file = fileArgument(argv, 'restore');
  const { dbPath } = configOf(io);
  const result = await restoreDatabase(file, dbPath);
  io.stdout(`Restored ${file} to ${dbPath}: ${held(result)}\n`);
  if (result.previous) io.stdout(`The database it replaced is kept as ${result.previous}\n`);
  return 0;
}

async function copy(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(argv, { from: { type: 'string' }, to: { type: 'string' } }, false);
  const { from, to } = values;
  if (from === undefined || to === undefined || positionals.length > 0) throw new UsageError('db copy: expected --from SRC --to DST');
  const shown = (end: string) => (isPostgresUrl(end) ? loggablePostgresUrl(end) : end);
  // Loaded here only: an SQLite operator's processes never load the PostgreSQL driver.
  const { copyPostgresToSqlite, copySqliteToPostgres } = await import('../db/pg/copy.js');
  let summary: CopySummary;
  if (!isPostgresUrl(from) && isPostgresUrl(to)) summary = await copySqliteToPostgres(from, to);
  else if (isPostgresUrl(from) && !isPostgresUrl(to)) summary = await copyPostgresToSqlite(from, to);
  else {
    throw new UsageError(
      `db copy: copies between SQLite and PostgreSQL, one of each (${isPostgresUrl(from) ? 'pg_dump' : 'lineup db backup'} copies within one kind)`,
    );
  }
  io.stdout(`Copied ${shown(from)} to ${shown(to)}: ${held(summary)} (${count(summary.tables, 'table')}, ${count(summary.rows, 'row')})\n`);
  return 0;
}

export const dbCommand: Command = {
  name: 'db',
  summary: 'back up the database while the server runs, restore a backup while it is stopped, or copy it to or from PostgreSQL',
  help: HELP,
  run: (argv, io) => {
    const [action, ...rest] = argv;
    if (action === 'backup') return backup(rest, io);
    if (action === 'restore') return restore(rest, io);
    if (action === 'copy') return copy(rest, io);
    throw new UsageError(`db: expected backup, restore or copy, got ${action === undefined ? 'nothing' : `"${action}"`}`);
  },
};
