import { parseSince } from '../subscribers/subscriber-admin.js';
import { type Command, parseOptions, UsageError, wholeNumber, withAdminParts } from './command.js';

const HELP = `lineup audit [--user USER] [--since DATE] [--limit N] [--json]

Who changed what, oldest first: every change made through the admin API (api:TOKEN_NAME), the CLI
(cli), lineup sql (sql) or the server's own jobs (server), with the row before and after. Playlist
keys and tokens are never recorded; a new key shows as "key_rotated": true.

  --user USER    only this subscriber's changes (its row and its packages)
  --since DATE   only changes at or after DATE (UTC: YYYY-MM-DD or "YYYY-MM-DD HH:MM:SS")
  --limit N      the newest N changes (default 100)
  --json         one JSON array, for scripts`;

/** --since DATE, with the message naming this option. */
function sinceOf(text: string): string {
  try {
    return parseSince(text);
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^--until/, '--since'));
  }
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'who changed what: the audit trail of the API, the CLI and lineup sql',
  help: HELP,
  run: async (argv, io) => {
    const { values } = parseOptions(
      argv,
      { user: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
      false,
    );
    const since = values.since === undefined ? undefined : sinceOf(values.since);
    const limit = wholeNumber(values.limit, '--limit', 1) ?? 100;
    return withAdminParts(io, ({ audit }) => {
      const entries = audit({
        limit,
        ...(values.user !== undefined ? { username: values.user } : {}),
        ...(since !== undefined ? { since } : {}),
      });
      if (values.json) {
        io.stdout(`${JSON.stringify(entries, null, 2)}\n`);
        return 0;
      }
      if (entries.length === 0) io.stdout('no changes recorded\n');
      for (const entry of entries) {
        io.stdout(
          `${entry.at}  ${entry.actor}  ${entry.action} ${entry.entity} ${entry.subject}` +
            `${entry.before ? `  before ${JSON.stringify(entry.before)}` : ''}${entry.after ? `  after ${JSON.stringify(entry.after)}` : ''}\n`,
        );
      }
      return 0;
    });
  },
};
