import { existsSync } from 'node:fs';
import { openDatabase } from '../db/open.js';
import { type Command, configOf, parseOptions } from './command.js';

export const initCommand: Command = {
  name: 'init',
  summary: 'create and migrate the database (the one admin command that creates one)',
  help: `lineup init

Creates the database at LINEUP_DB, with its directory, if it is missing, and migrates it to this
version's schema; prints its path. Running it again changes nothing. It seeds nothing and
stores no key: with SECURETOKEN_KEY unset, the server generates its key at its first start.
Other admin commands never create a database, so that one run with another LINEUP_DB than the
server's fails instead of working on a new, empty one.`,
  run: (argv, io) => {
    parseOptions(argv, {}, false);
    const { dbPath } = configOf(io);
    const existed = existsSync(dbPath);
    openDatabase(dbPath, { create: true }).close();
    io.stdout(`${existed ? 'Database up to date' : 'Created the database'}: ${dbPath}\n`);
    return 0;
  },
};
