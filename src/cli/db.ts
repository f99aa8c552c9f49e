import { backupDatabase, restoreDatabase } from '../db/backup.js';
import { type CliIo, type Command, configOf, parseOptions, UsageError, withContext } from './command.js';
import { count } from './plural.js';

const HELP = `lineup db backup FILE
lineup db restore FILE

backup: copies the database at LINEUP_DB to FILE with SQLite's online backup: one consistent
state, WAL included, safe while the server runs (cp of the file is not). FILE is replaced once the
copy is complete, never left half written.

restore: replaces the database at LINEUP_DB with FILE, a backup. Refused while a server has the
database open (LINEUP_DB.lock holds its pid): stop the server, restore, start it again. FILE is
checked first (quick_check, Lineup's schema), the database it replaces is kept beside it as
LINEUP_DB.before-restore, and the old WAL is removed so that it cannot be replayed over the
restored file.`;

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

export const dbCommand: Command = {
  name: 'db',
  summary: 'back up the database while the server runs, or restore a backup while it is stopped',
  help: HELP,
  run: (argv, io) => {
    const [action, ...rest] = argv;
    if (action === 'backup') return backup(rest, io);
    if (action === 'restore') return restore(rest, io);
    throw new UsageError(`db: expected backup or restore, got ${action === undefined ? 'nothing' : `"${action}"`}`);
  },
};
