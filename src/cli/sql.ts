import { setAuditActor } from '../db/audit-triggers.js';
import { isPostgresUrl } from '../db/pg/url.js';
import { applySqlScript } from '../db/sql-script.js';
import { sqliteSession } from '../db/sql-session.js';
import type { Finding } from '../lint/lint.js';
import { systemClock, toSqlTime } from '../time.js';
import { type CliIo, type Command, configOf, parseOptions, readInputFile, UsageError, withContext } from './command.js';
import { LineupGuard, PostgresLineupGuard, reportGuard, withGuardReport } from './lineup-guard.js';
import { printFindings } from './lint.js';
import { count } from './plural.js';

interface Script {
  file: string;
  text: string;
}

const printApplied = (io: CliIo, file: string, result: { statements: number; changes: number }) =>
  io.stdout(`${file}: ${count(result.statements, 'statement')}, ${count(result.changes, 'row')} changed\n`);

/** The same, file by file, on the PostgreSQL database that LINEUP_DB names. */
async function applyOnPostgres(url: string, scripts: Script[], force: boolean, io: CliIo): Promise<number> {
  // Loaded here only: an SQLite operator's processes never load the PostgreSQL driver nor its parser.
  const [{ withPostgresClient }, { applyPostgresScript }] = await Promise.all([
    import('../db/pg/session.js'),
    import('../db/pg/sql-script.js'),
  ]);
  return withPostgresClient(url, async (client) => {
    let findings: Finding[] = [];
    for (const { file, text } of scripts) {
      const guard = new PostgresLineupGuard(client, file, toSqlTime((io.clock ?? systemClock)()), force);
      const result = await withGuardReport(io, () => applyPostgresScript(client, file, text, guard));
      printApplied(io, file, result);
      reportGuard(guard, io);
      findings = guard.findings;
    }
    printFindings(findings, io);
    return 0;
  });
}

export const sqlCommand: Command = {
  name: 'sql',
  summary: 'apply admin SQL scripts, each file in one transaction',
  help: `lineup sql FILE… [--force]

Applies each file in its own transaction: all of its statements, or on an error none of them.
A BEGIN/COMMIT in the file is skipped (the file already is one transaction). Before the commit
the lineup is linted: a file that would leave lint errors the lineup did not have is rolled back
and named (exit 1), with the findings; errors that were there before are shown but never block.
After applying, prints the rows changed and the lineup's findings. The first file that changes
channels beside the demo lineup removes the demo (lineup demo remove), and says so. The service
picks the change up on its next request; no restart is needed.

With LINEUP_DB a postgres:// URL, the file is cut into statements by PostgreSQL's own parser
(dollar quotes and all), and SQLite syntax that PostgreSQL lacks (INSERT OR IGNORE, REPLACE INTO,
GLOB, PRAGMA, BEGIN IMMEDIATE) is refused with the PostgreSQL form to write. The native
equivalent, without the lint check: psql -1 -v ON_ERROR_STOP=1 -f FILE

  --force   commit a file even if it brings in new lint errors`,
  run: async (argv, io) => {
    const { values, positionals } = parseOptions(argv, { force: { type: 'boolean' } });
    if (positionals.length === 0) throw new UsageError('sql: name at least one FILE');
    // Every file is read before the first is applied, so that a typo in the last name applies nothing.
    const scripts = positionals.map((file) => ({ file, text: readInputFile(file) }));
    const force = values.force === true;
    const { dbPath } = configOf(io);
    if (isPostgresUrl(dbPath)) return applyOnPostgres(dbPath, scripts, force, io);
    return withContext(io, ({ db, clock }) => {
      setAuditActor(db, 'sql');
      let findings: Finding[] = [];
      for (const { file, text } of scripts) {
        const guard = new LineupGuard(sqliteSession(db), file, toSqlTime(clock()), { force, demo: 'script' });
        const result = withGuardReport(io, () => applySqlScript(db, file, text, guard));
        printApplied(io, file, result);
        reportGuard(guard, io);
        findings = guard.findings;
      }
      printFindings(findings, io);
      return 0;
    });
  },
};
