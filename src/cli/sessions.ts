import type { SessionRecord } from '../auth/session-limiter.js';
import { toSqlTime } from '../time.js';
import { type Command, parseOptions, UsageError, withAdminParts } from './command.js';
import { printTable } from './table.js';

const HELP = `lineup sessions [--user USER] [--json]

Who is watching now: the stream sessions the auth backend (/auth/flussonic, /auth/cesbo,
/auth/nginx) counts toward max_connections, that is open and seen within SESSION_IDLE, with the
subscriber, the viewer's IP, the stream, the protocol, the streaming server's dialect, and when the
session started and was last seen (UTC). A running server writes last-seen times in batches, so
they may lag by up to a quarter of SESSION_IDLE. --user USER shows one subscriber's; --json for
scripts.`;

export const sessionsCommand: Command = {
  name: 'sessions',
  summary: 'who is watching now: the stream sessions the auth backend counts',
  help: HELP,
  run: async (argv, io) => {
    const { values, positionals } = parseOptions(argv, { user: { type: 'string' }, json: { type: 'boolean' } });
    if (positionals.length > 0) throw new UsageError(`sessions: unexpected argument "${positionals[0]}"`);
    return withAdminParts(io, ({ subscribers, sessions, clock, config }) => {
      const since = clock() - config.authBackend.sessionIdle;
      const only = values.user === undefined ? undefined : subscribers.get(values.user);
      const usernames = new Map(only ? [[only.id, only.username]] : subscribers.list().map((s) => [s.id, s.username]));
      const rows = sessions()
        .active(since, only?.id)
        .map((session: SessionRecord) => ({
          username: usernames.get(session.subscriberId) ?? `#${session.subscriberId}`,
          subscriberId: session.subscriberId,
          ip: session.ip,
          stream: session.stream,
          proto: session.proto,
          via: session.dialect,
          startedAt: toSqlTime(session.startedAt),
          lastSeen: toSqlTime(session.lastSeen),
        }));
      if (values.json) {
        io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
        return 0;
      }
      printTable(
        ['USERNAME', 'IP', 'STREAM', 'PROTO', 'VIA', 'STARTED (UTC)', 'LAST SEEN (UTC)'],
        rows.map((row) => [row.username, row.ip, row.stream, row.proto || '-', row.via, row.startedAt, row.lastSeen]),
        io,
      );
      io.stdout(`${rows.length} session${rows.length === 1 ? '' : 's'}\n`);
      return 0;
    });
  },
};
