import { toSqlTime } from '../time.js';
import { type Command, parseOptions, UsageError, withAdminParts } from './command.js';
import { count } from './plural.js';
import { formatTable } from './table.js';

/** How far back the sharing report looks, in seconds. */
const SHARING_WINDOW_SECONDS = 86_400;

const HELP = `lineup report sharing [--json]

Lists the subscriptions whose playlist was fetched from more distinct addresses in the last 24 h
than their max_connections, the most addresses first, with each address and when it was first
and last seen (UTC, to the TOKEN_BUCKET). A household whose address changed, or a phone on
mobile data, also shows here: look at the count and the times before you act. --json prints the
same as a JSON array for scripts. The addresses are recorded in securetoken mode too, once per
subscriber, address and TOKEN_BUCKET; PLAYLIST_IP_LIMIT refuses the extra ones.`;

export const reportCommand: Command = {
  name: 'report',
  summary: 'reports for operators: sharing (playlists fetched from more addresses than allowed)',
  help: HELP,
  run: async (argv, io) => {
    const { values, positionals } = parseOptions(argv, { json: { type: 'boolean' } });
    const [report, extra] = positionals;
    if (report !== 'sharing')
      throw new UsageError(report === undefined ? 'report: name the report (sharing)' : `report: unknown report "${report}" (sharing)`);
    if (extra !== undefined) throw new UsageError(`report sharing: unexpected argument "${extra}"`);
    return withAdminParts(io, ({ sharingSince, clock }) => {
      const since = toSqlTime(clock() - SHARING_WINDOW_SECONDS);
      const suspects = sharingSince(since);
      if (values.json) {
        io.stdout(`${JSON.stringify(suspects, null, 2)}\n`);
        return 0;
      }
      if (suspects.length === 0) {
        io.stdout(`no subscription was fetched from more addresses than its max connections since ${since} UTC\n`);
        return 0;
      }
      io.stdout(`${count(suspects.length, 'subscription')} fetched from more addresses than their max connections since ${since} UTC:\n`);
      io.stdout(
        formatTable([
          ['USERNAME', 'MAX CONN', 'ADDRESSES', 'LAST SEEN (UTC)', 'IPS (LATEST FIRST)'],
          ...suspects.map((suspect) => [
            suspect.username,
            String(suspect.maxConnections),
            String(suspect.addresses.length),
            suspect.addresses[0]?.lastSeen ?? '-',
            suspect.addresses.map((address) => address.ip).join(' '),
          ]),
        ]),
      );
      return 0;
    });
  },
};
