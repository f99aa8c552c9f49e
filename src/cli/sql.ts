import { readLintInput } from '../db/lint-store.js';
import { applySqlScript } from '../db/sql-script.js';
import { lintLineup } from '../lint/lint.js';
import { toSqlTime } from '../time.js';
import { type Command, parseOptions, readInputFile, UsageError, withContext } from './command.js';
import { printFindings } from './lint.js';

export const sqlCommand: Command = {
  name: 'sql',
  summary: 'apply admin SQL scripts, each file in one transaction',
  help: `lineup sql FILE…

Applies each file in its own transaction: all of its statements, or on an error none of them.
A BEGIN/COMMIT in the file is skipped (the file already is one transaction). After applying,
prints the rows changed and the lineup's warnings. The service picks the change up on its next
request; no restart is needed.`,
  run: async (argv, io) => {
    const { positionals } = parseOptions(argv, {});
    if (positionals.length === 0) throw new UsageError('sql: name at least one FILE');
    // Every file is read before the first is applied, so that a typo in the last name applies nothing.
    const scripts = positionals.map((file) => ({ file, text: readInputFile(file) }));
    return withContext(io, ({ db, clock }) => {
      for (const { file, text } of scripts) {
        const result = applySqlScript(db, file, text);
        io.stdout(`${file}: ${result.statements} statements, ${result.changes} rows changed\n`);
      }
      // Lint findings are reported, not fatal: the scripts have been applied either way.
      printFindings(lintLineup(readLintInput(db, toSqlTime(clock()))), io);
      return 0;
    });
  },
};
