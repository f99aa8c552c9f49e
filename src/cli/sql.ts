import { setAuditActor } from '../db/audit-triggers.js';
import { applySqlScript } from '../db/sql-script.js';
import type { Finding } from '../lint/lint.js';
import { toSqlTime } from '../time.js';
import { type Command, parseOptions, readInputFile, UsageError, withContext } from './command.js';
import { LineupGuard, reportGuard, withGuardReport } from './lineup-guard.js';
import { printFindings } from './lint.js';
import { count } from './plural.js';

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

  --force   commit a file even if it brings in new lint errors`,
  run: async (argv, io) => {
    const { values, positionals } = parseOptions(argv, { force: { type: 'boolean' } });
    if (positionals.length === 0) throw new UsageError('sql: name at least one FILE');
    // Every file is read before the first is applied, so that a typo in the last name applies nothing.
    const scripts = positionals.map((file) => ({ file, text: readInputFile(file) }));
    return withContext(io, ({ db, clock }) => {
      setAuditActor(db, 'sql');
      let findings: Finding[] = [];
      for (const { file, text } of scripts) {
        const guard = new LineupGuard(db, file, toSqlTime(clock()), { force: values.force === true, demo: 'script' });
        const result = withGuardReport(io, () => applySqlScript(db, file, text, guard));
        io.stdout(`${file}: ${count(result.statements, 'statement')}, ${count(result.changes, 'row')} changed\n`);
        reportGuard(guard, io);
        findings = guard.findings;
      }
      printFindings(findings, io);
      return 0;
    });
  },
};
