import { existsSync } from 'node:fs';
import { openDatabase } from '../db/open.js';
import { isPostgresUrl, loggablePostgresUrl } from '../db/pg/url.js';
import { type Command, configOf, parseOptions } from './command.js';

export const initCommand: Command = {
  name: 'init',
  summary: 'create and migrate the database (the one admin command that creates one)',
  help: `lineup init

Creates the database at LINEUP_DB, with its directory, if it is missing, and migrates it to this
version's schema; prints its path. Running it again changes nothing. It seeds nothing and
stores no key: with SECURETOKEN_KEY unset, the server generates its key at its first start.
Other admin commands never create a database, so that one run with another LINEUP_DB than the
server's fails instead of working on a new, empty one.

A PostgreSQL LINEUP_DB (postgres://USER:PASSWORD@HOST/DB) must exist already (createdb): init
makes Lineup's tables in it, or migrates them, under a lock, so several nodes may run it at once.`,
  run: async (argv, io) => {
    parseOptions(argv, {}, false);
    const { dbPath } = configOf(io);
    if (isPostgresUrl(dbPath)) {
      // Loaded here only: an SQLite operator's processes never load the PostgreSQL driver.
      const { migratePostgresDatabase } = await import('../db/pg/open.js');
      const { from, warnings } = await migratePostgresDatabase(dbPath);
      for (const warning of warnings) io.stderr(`lineup: warning: ${warning}\n`);
      io.stdout(`${from === 0 ? 'Created the schema' : 'Database up to date'}: ${loggablePostgresUrl(dbPath)}\n`);
      return 0;
    }
    const existed = existsSync(dbPath);
    openDatabase(dbPath, { create: true }).close();
    io.stdout(`${existed ? 'Database up to date' : 'Created the database'}: ${dbPath}\n`);
    return 0;
  },
};
