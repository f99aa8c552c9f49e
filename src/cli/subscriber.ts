import { stateOf } from '../subscribers/access.js';
import { PASSWORD_RULE } from '../subscribers/credentials.js';
import type { PlaylistAddress } from '../subscribers/playlist-ips.js';
import type { Subscriber } from '../subscribers/subscriber.js';
import { DEFAULT_SUBSCRIPTION_DAYS, parseUntil, type Revealed, type Term, USERNAME_RULE } from '../subscribers/subscriber-admin.js';
import { toSqlTime } from '../time.js';
import { type CliIo, type Command, parseOptions, UsageError, wholeNumber, withAdminParts } from './command.js';
import { count } from './plural.js';
import { formatTable, printTable as printColumns } from './table.js';

const HELP = `lineup subscriber add USER [--days N | --until DATE [--allow-past]] [--package NAME]… [--max-connections N] [--note TEXT]
lineup subscriber renew USER [--days N | --until DATE [--allow-past]]
lineup subscriber packages USER [--add NAME]… [--remove NAME]…
lineup subscriber disable|enable|rotate|remove|restore USER
lineup subscriber rotate-password USER [--password PASSWORD]
lineup subscriber show USER [--reveal] [--json]
lineup subscriber list [--expired] [--json]

add      creates USER (default ${DEFAULT_SUBSCRIPTION_DAYS} days), prints its XC login, and the playlist URL alone on the last line
renew    --days N extends from the current expiry, or from now if it has passed; --until sets it
packages adds and removes packages in one go (shows them without options); the URL stays the same
disable  the playlist answers 403 until enable
rotate   issues a new URL and prints it; the old one stops working at once
remove   deletes USER and its package links for good; the URL then answers 410 Gone
restore  puts back USER as the prune job took it (within PRUNE_KEEP_DAYS): the same URL works again
rotate-password  a new XC password (or --password, ${PASSWORD_RULE}); the old one stops working, the URL stays
show     state, packages and logins, and the addresses its playlist was fetched from and the IPs it
         streamed from (auth backend) in the last 24 h; --reveal re-prints the playlist URL and the
         XC password to re-send them
list     a table, or --json for scripts; --expired lists only lapsed subscribers

USER for add: ${USERNAME_RULE} (apps put it in URLs).
N is a whole number ≥ 1 (--days at most 36500).
DATE is UTC: YYYY-MM-DD (the end of that day) or "YYYY-MM-DD HH:MM:SS", a real calendar date.
A DATE already past is refused, since the subscriber would be expired at once; --allow-past means it.`;

/** Options whose value may look like a negative number, which parseArgs would take for an option. */
const NUMERIC_OPTIONS = new Set(['--days', '--until', '--max-connections']);

/**
 * `--days -5` as `--days=-5`, so that the value reaches the check that names what is wrong with it
 * instead of parseArgs calling the option "ambiguous".
 */
function attachNegativeValues(argv: string[]): string[] {
  const attached: string[] = [];
  for (let at = 0; at < argv.length; at++) {
    const arg = argv[at]!;
    const next = argv[at + 1];
    if (NUMERIC_OPTIONS.has(arg) && next !== undefined && /^-\d/.test(next)) {
      attached.push(`${arg}=${next}`);
      at++;
    } else attached.push(arg);
  }
  return attached;
}

function termFrom(
  values: { days?: string | undefined; until?: string | undefined; 'allow-past'?: boolean | undefined },
  fallbackDays?: number,
): Term {
  if (values.days !== undefined && values.until !== undefined) throw new UsageError('give --days or --until, not both');
  if (values.until !== undefined) return { until: parseUntil(values.until), allowPast: values['allow-past'] === true };
  if (values['allow-past']) throw new UsageError('--allow-past applies only with --until');
  const days = wholeNumber(values.days, '--days', 1) ?? fallbackDays;
  if (days === undefined) throw new UsageError('renew: give --days N or --until DATE');
  return { days };
}

function username(positionals: string[], action: string): string {
  const [user, ...extra] = positionals;
  if (!user) throw new UsageError(`subscriber ${action}: name the USER`);
  if (extra.length > 0) throw new UsageError(`subscriber ${action}: unexpected argument "${extra[0]}"`);
  return user;
}

function describe(subscriber: Subscriber, now: number): string {
  const state = stateOf(subscriber, now);
  const packages = subscriber.packages.length > 0 ? subscriber.packages.join(',') : '-';
  return `${subscriber.username}: ${state}, expires ${subscriber.expiresAt} UTC, packages ${packages}, max connections ${subscriber.maxConnections}`;
}

function printTable(subscribers: Subscriber[], now: number, io: CliIo): void {
  printColumns(
    ['USERNAME', 'STATE', 'EXPIRES (UTC)', 'PACKAGES', 'MAX CONN', 'URL'],
    subscribers.map((s) => [
      s.username,
      stateOf(s, now),
      s.expiresAt,
      s.packages.join(',') || '-',
      String(s.maxConnections),
      s.hasKey ? 'issued' : 'none (rotate)',
    ]),
    io,
  );
}

/** What `subscriber show` looks back over. */
const SHOW_WINDOW_SECONDS = 86_400;

/** `subscriber show`'s block of playlist addresses (playlist_ips), beside the stream IPs. */
function playlistAddressBlock(addresses: PlaylistAddress[], maxConnections: number): string {
  const over = addresses.length > maxConnections ? `, more than its ${maxConnections} max connections` : '';
  const heading = `\nplaylist fetched from, last 24 h: ${addresses.length === 0 ? 'none' : `${count(addresses.length, 'address', 'addresses')}${over}`}\n`;
  if (addresses.length === 0) return heading;
  return (
    heading +
    formatTable([
      ['IP', 'FIRST SEEN (UTC)', 'LAST SEEN (UTC)', 'BUCKETS'],
      ...addresses.map((address) => [address.ip, address.firstSeen, address.lastSeen, String(address.buckets)]),
    ])
  );
}

/** The server an XC app asks for: PUBLIC_URL's scheme, host and port. */
function publicUrl(playlistUrl: string): string {
  return new URL(playlistUrl).origin;
}

function xcLogin(server: string, user: string, password: string): string {
  return `XC login: server ${server}, username ${user}, password ${password}`;
}

function revealedFields(revealed: Revealed | undefined) {
  if (!revealed) return {};
  return { playlist_url: revealed.url ?? null, xc_password: revealed.xcPassword ?? null };
}

/** Why a credential cannot be shown, and what gives a revealable one. */
const NOT_KEPT_URL = '(issued before URLs were kept sealed, so it cannot be shown; lineup subscriber rotate issues one that can)';
const NOT_KEPT_PASSWORD = '(none yet: lineup subscriber rotate-password issues one)';

function showText(subscriber: Subscriber, now: number, revealed: Revealed | undefined, server: string): string {
  const lines = [
    describe(subscriber, now),
    `created ${subscriber.createdAt} UTC${subscriber.note ? `, note: ${subscriber.note}` : ''}`,
    `playlist URL: ${subscriber.hasKey ? 'issued' : 'none (rotate)'}; XC password: ${subscriber.hasXcPassword ? 'issued' : 'none (rotate-password)'}`,
  ];
  if (revealed) {
    lines.push(`XC login: server ${server}, username ${subscriber.username}, password ${revealed.xcPassword ?? NOT_KEPT_PASSWORD}`);
    lines.push(`playlist URL: ${revealed.url ?? NOT_KEPT_URL}`);
  }
  return `${lines.join('\n')}\n`;
}

export const subscriberCommand: Command = {
  name: 'subscriber',
  summary: 'add, renew, change packages, disable, enable, rotate, remove, restore, show and list subscribers',
  help: HELP,
  run: async (argv, io) => {
    const [action, ...rest] = argv;
    if (action === undefined || action === '--help' || action === '-h') {
      io.stdout(`${HELP}\n`);
      return action === undefined ? 2 : 0;
    }
    const allowed: Record<string, string[]> = {
      add: ['days', 'until', 'allow-past', 'package', 'max-connections', 'note'],
      renew: ['days', 'until', 'allow-past'],
      packages: ['add', 'remove'],
      disable: [],
      enable: [],
      rotate: [],
      remove: [],
      restore: [],
      'rotate-password': ['password'],
      show: ['reveal', 'json'],
      list: ['expired', 'json'],
    };
    const permitted = allowed[action];
    if (!permitted) {
      throw new UsageError(
        `subscriber: unknown action "${action}" (add, renew, packages, disable, enable, rotate, rotate-password, show, remove, restore, list)`,
      );
    }
    const { values, positionals } = parseOptions(attachNegativeValues(rest), {
      days: { type: 'string' },
      until: { type: 'string' },
      'allow-past': { type: 'boolean' },
      package: { type: 'string', multiple: true },
      add: { type: 'string', multiple: true },
      remove: { type: 'string', multiple: true },
      'max-connections': { type: 'string' },
      note: { type: 'string' },
      expired: { type: 'boolean' },
      json: { type: 'boolean' },
      password: { type: 'string' },
      reveal: { type: 'boolean' },
    });
    if (values.help) {
      io.stdout(`${HELP}\n`);
      return 0;
    }
    const misplaced = Object.keys(values).find((option) => option !== 'help' && !permitted.includes(option));
    if (misplaced) throw new UsageError(`subscriber ${action}: --${misplaced} does not apply here`);

    return withAdminParts(io, ({ subscriberAdmin, streamedFrom: streamedSince, playlistAddresses: playlistAddressesSince, clock }) => {
      const now = clock();
      switch (action) {
        case 'add': {
          const { subscriber, url, xcPassword } = subscriberAdmin.add({
            username: username(positionals, action),
            term: termFrom(values, DEFAULT_SUBSCRIPTION_DAYS),
            packages: values.package ?? [],
            maxConnections: wholeNumber(values['max-connections'], '--max-connections', 1) ?? 1,
            ...(values.note !== undefined ? { note: values.note } : {}),
          });
          io.stdout(`added ${describe(subscriber, now)}\n${xcLogin(publicUrl(url), subscriber.username, xcPassword)}\n${url}\n`);
          return 0;
        }
        case 'renew': {
          io.stdout(`renewed ${describe(subscriberAdmin.renew(username(positionals, action), termFrom(values)), now)}\n`);
          return 0;
        }
        case 'packages': {
          const user = username(positionals, action);
          const subscriber = subscriberAdmin.changePackages(user, { add: values.add ?? [], remove: values.remove ?? [] });
          io.stdout(`${describe(subscriber, now)}\n`);
          return 0;
        }
        case 'disable':
        case 'enable': {
          io.stdout(`${action}d ${describe(subscriberAdmin.setEnabled(username(positionals, action), action === 'enable'), now)}\n`);
          return 0;
        }
        case 'rotate': {
          const { subscriber, url } = subscriberAdmin.rotate(username(positionals, action));
          io.stdout(`rotated ${subscriber.username}: the old URL no longer works\n${url}\n`);
          return 0;
        }
        case 'rotate-password': {
          const user = username(positionals, action);
          const password = subscriberAdmin.rotatePassword(user, values.password);
          io.stdout(`new XC password for ${user}: the old one no longer works\n${password}\n`);
          return 0;
        }
        case 'remove': {
          const user = username(positionals, action);
          subscriberAdmin.remove(user);
          io.stdout(`removed ${user}\n`);
          return 0;
        }
        case 'restore': {
          const { subscriber, missingPackages } = subscriberAdmin.restore(username(positionals, action));
          io.stdout(`restored ${describe(subscriber, now)}; its URL works again\n`);
          if (missingPackages.length > 0) io.stdout(`packages that no longer exist, not linked: ${missingPackages.join(',')}\n`);
          if (stateOf(subscriber, now) === 'expired') {
            io.stdout(
              `it has lapsed: renew it (lineup subscriber renew ${subscriber.username} --days N), or the next prune takes it again\n`,
            );
          }
          return 0;
        }
        case 'show': {
          const user = username(positionals, action);
          const subscriber = subscriberAdmin.get(user);
          const revealed = values.reveal ? subscriberAdmin.reveal(user) : undefined;
          const streamedFrom = streamedSince(subscriber.id, now - SHOW_WINDOW_SECONDS).map((seen) => ({
            ...seen,
            firstSeen: toSqlTime(seen.firstSeen),
            lastSeen: toSqlTime(seen.lastSeen),
          }));
          // Playlist fetches, recorded in every signing mode (playlist_ips).
          const playlistAddresses = playlistAddressesSince(subscriber.username, toSqlTime(now - SHOW_WINDOW_SECONDS));
          if (values.json) {
            const state = stateOf(subscriber, now);
            io.stdout(
              `${JSON.stringify({ ...subscriber, state, ...revealedFields(revealed), playlistAddresses, streamedFrom }, null, 2)}\n`,
            );
            return 0;
          }
          io.stdout(showText(subscriber, now, revealed, subscriberAdmin.serverUrl));
          io.stdout(playlistAddressBlock(playlistAddresses, subscriber.maxConnections));
          const streamed = streamedFrom.length === 0 ? 'none' : '';
          io.stdout(`\nstreamed from, last 24 h (auth backend): ${streamed}\n`);
          if (streamedFrom.length > 0) {
            printColumns(
              ['IP', 'FIRST SEEN (UTC)', 'LAST SEEN (UTC)', 'SESSIONS'],
              streamedFrom.map((seen) => [seen.ip, seen.firstSeen, seen.lastSeen, String(seen.sessions)]),
              io,
            );
          }
          return 0;
        }
        default: {
          if (positionals.length > 0) throw new UsageError(`subscriber list: unexpected argument "${positionals[0]}"`);
          const subscribers = subscriberAdmin.list({ expiredOnly: values.expired === true });
          if (values.json) io.stdout(`${JSON.stringify(subscribers, null, 2)}\n`);
          else printTable(subscribers, now, io);
          return 0;
        }
      }
    });
  },
};
