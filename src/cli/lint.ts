import { readLintInput } from '../db/lint-store.js';
import { type Finding, lintLineup } from '../lint/lint.js';
import { toSqlTime } from '../time.js';
import { type CliIo, type Command, parseOptions, withAdminParts } from './command.js';
import { count } from './plural.js';

/** Prints findings, one a line; returns whether any is an error. */
export function printFindings(findings: Finding[], io: CliIo): boolean {
  for (const finding of findings) io.stdout(`${finding.severity}: ${finding.code}: ${finding.message}\n`);
  const errors = findings.filter((finding) => finding.severity === 'error').length;
  io.stdout(
    findings.length === 0
      ? 'lineup: no problems found\n'
      : `lineup: ${count(errors, 'error')}, ${count(findings.length - errors, 'warning')}\n`,
  );
  return errors > 0;
}

export const lintCommand: Command = {
  name: 'lint',
  summary: 'check the lineup for problems that SQL constraints cannot catch',
  help: `lineup lint [--json]

Reports duplicate numbers, duplicate stream names per origin, channels without a name and stream
names that cannot be signed, logos that are not http(s) URLs, shared tvg_ids, and channels that no
active subscriber can see. Disabled channels are checked only for problems of their own. Exits 1
when there are errors (warnings alone exit 0).`,
  run: async (argv, io) => {
    const { values } = parseOptions(argv, { json: { type: 'boolean' } }, false);
    return withAdminParts(io, ({ sql, clock }) => {
      const findings = lintLineup(readLintInput(sql, toSqlTime(clock())));
      if (values.json) {
        io.stdout(`${JSON.stringify(findings, null, 2)}\n`);
        return findings.some((finding) => finding.severity === 'error') ? 1 : 0;
      }
      return printFindings(findings, io) ? 1 : 0;
    });
  },
};
