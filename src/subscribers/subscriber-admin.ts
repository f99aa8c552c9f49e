import { BadInputError } from '../errors.js';
import { isReservedPathSegment, playlistUrl } from '../routes.js';
import { type Clock, fromSqlTime, type SqlTime, toSqlTime } from '../time.js';
import { type CredentialSeal, generateXcPassword, isValidXcPassword, PASSWORD_RULE } from './credentials.js';
import { generatePlaylistKey, hashPlaylistKey } from './keys.js';
import type { StoredCredential, Subscriber, SubscriberChange, SubscriberFilter } from './subscriber.js';
import type { RestoredSubscriber, SubscriberStorage } from './subscriber-storage.js';

const DAY = 86_400;
export const DEFAULT_SUBSCRIPTION_DAYS = 30;
/** A term longer than this is a typo more likely than a contract (and would leave SQL's 4-digit years). */
export const MAX_TERM_DAYS = 36_500;

/**
 * How long a subscription runs: a number of days, or until a date. A date already past is refused
 * unless `allowPast`: a subscriber who is expired from the start is almost always a mistyped year.
 */
export type Term = { days: number } | { until: SqlTime; allowPast?: boolean };

export interface IssuedUrl {
  subscriber: Subscriber;
  /** The playlist URL. */
  url: string;
}

/** A new subscriber's credentials: the playlist URL and the XC password. */
export interface IssuedCredentials extends IssuedUrl {
  xcPassword: string;
}

/** What `subscriber show --reveal` re-sends; undefined where nothing is kept (a key issued before keys were sealed, no password yet). */
export interface Revealed {
  url: string | undefined;
  xcPassword: string | undefined;
}

/**
 * New usernames: letters, digits, `.`, `_`, `~` and `-`, 1 to 64 of them: the URL-safe set, since
 * Xtream Codes apps put the username in URL paths and queries without escaping it. Rows that
 * predate the rule, or that SQL inserted, keep working under any name (`lineup lint` reports them).
 */
export const USERNAME = /^[A-Za-z0-9._~-]{1,64}$/;
export const USERNAME_RULE = '1 to 64 letters, digits, ".", "_", "~" or "-", and not a path Lineup serves (live, play, …)';

/** Whether a username may be given to a new subscriber, and so used in an XC app, legacy links included. */
export function isValidUsername(username: string): boolean {
  return USERNAME.test(username) && !isReservedPathSegment(username);
}

/** @throws BadInputError naming the rule, for a username a new subscriber may not have. */
function assertValidUsername(username: string): void {
  if (!isValidUsername(username)) throw new BadInputError(`USER: "${username}" is not a valid username (${USERNAME_RULE})`);
}

/** The bounds of the subscribers table's CHECK, said in words before SQLite refuses them. */
export const MAX_CONNECTIONS_LIMIT = 1000;

function assertMaxConnections(value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > MAX_CONNECTIONS_LIMIT) {
    throw new BadInputError(`max connections: "${value}" is not a whole number from 1 to ${MAX_CONNECTIONS_LIMIT}`);
  }
}

const UNTIL_FORMAT = '(YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, UTC)';
/** `YYYY-MM-DD`, optionally ` HH:MM[:SS[.fff]]` (or `T…`), optionally `Z` or a `±HH[:]MM` offset. */
const UNTIL = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:[zZ]|([+-])(\d{2}):?(\d{2}))?)?$/;

/**
 * `YYYY-MM-DD` (the end of that day, UTC), `YYYY-MM-DD HH:MM[:SS]` (UTC) or ISO with an offset →
 * `YYYY-MM-DD HH:MM:SS`. Only real calendar dates: `Date.parse` would read 2027-02-30 as March 2,
 * and store a day nobody asked for.
 */
export function parseUntil(text: string): SqlTime {
  const trimmed = text.trim();
  const match = UNTIL.exec(trimmed);
  if (!match) throw new BadInputError(`--until: "${text}" is not a date ${UNTIL_FORMAT}`);
  const [year, month, day] = [match[1], match[2], match[3]].map(Number) as [number, number, number];
  const dateOnly = match[4] === undefined;
  const [hour, minute, second] = dateOnly ? [23, 59, 59] : [Number(match[4]), Number(match[5]), Number(match[6] ?? 0)];
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  const real = new Date(utc);
  // Date.UTC rolls an out-of-range field over into the next; a real date and time comes back unchanged.
  if (
    year < 1000 ||
    real.getUTCFullYear() !== year ||
    real.getUTCMonth() !== month - 1 ||
    real.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new BadInputError(`--until: "${text}" is not a real ${dateOnly ? 'date' : 'date and time'} ${UNTIL_FORMAT}`);
  }
  const [sign, offsetHours, offsetMinutesPart] = [match[7], Number(match[8] ?? 0), Number(match[9] ?? 0)];
  const offsetMinutes = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutesPart);
  if (Math.abs(offsetMinutes) > 18 * 60 || offsetMinutesPart > 59) {
    throw new BadInputError(`--until: "${text}" has no real UTC offset ${UNTIL_FORMAT}`);
  }
  const seconds = utc / 1000 - offsetMinutes * 60;
  const result = toSqlTime(seconds);
  if (!/^\d{4}-/.test(result)) throw new BadInputError(`--until: "${text}" is out of range ${UNTIL_FORMAT}`);
  return result;
}

/** Like `parseUntil`, except that a date alone means the start of that day: "changes since" a day include it. */
export function parseSince(text: string): SqlTime {
  const until = parseUntil(text);
  return /^\d{4}-\d{2}-\d{2}$/.test(text.trim()) ? `${text.trim()} 00:00:00` : until;
}

/** What operators do to subscribers, with the rules that the CLI and the seed share. */
export class SubscriberAdmin {
  constructor(
    private readonly store: SubscriberStorage,
    private readonly publicUrl: string,
    private readonly clock: Clock,
    /** The credentials key, read on first need: commands that seal nothing never touch its file. */
    private readonly seal: () => CredentialSeal,
  ) {}

  /** @throws BadInputError for a username outside the rule, a bad term, a taken name or an unknown package. */
  add(input: { username: string; term: Term; packages: string[]; maxConnections: number; note?: string }): IssuedCredentials {
    assertValidUsername(input.username);
    assertMaxConnections(input.maxConnections);
    const now = this.clock();
    const expiresAt = this.expiryFor(input.term, now, now);
    const key = generatePlaylistKey();
    const xcPassword = generateXcPassword();
    const subscriber = this.store.add({
      username: input.username,
      key: this.storedKey(key),
      xcPassword: this.storedPassword(xcPassword),
      expiresAt,
      packages: input.packages,
      maxConnections: input.maxConnections,
      note: input.note ?? '',
    });
    return { subscriber, url: playlistUrl(this.publicUrl, key), xcPassword };
  }

  /** `--days N` extends from the current expiry if it is still ahead, so early renewals lose nothing. */
  renew(username: string, term: Term): Subscriber {
    // One transaction: two renewals at once (two API clients, the CLI and the API) each extend
    // the expiry the other wrote, rather than both the one they read.
    return this.store.transaction(() => {
      const now = this.clock();
      const current = fromSqlTime(this.store.get(username).expiresAt);
      this.store.setExpiry(username, this.expiryFor(term, Math.max(current, now), now));
      return this.store.get(username);
    });
  }

  /** Several fields at once, all or none. @throws NotFoundError; BadInputError for an unknown package. */
  change(username: string, change: SubscriberChange): Subscriber {
    if (change.maxConnections !== undefined) assertMaxConnections(change.maxConnections);
    return this.store.transaction(() => {
      this.store.change(username, change);
      return this.store.get(username);
    });
  }

  /** Up to `limit` matching subscribers after the username `after`, by username; states as of now. */
  page(filter: SubscriberFilter, after: string | undefined, limit: number): Subscriber[] {
    return this.store.page(filter, toSqlTime(this.clock()), after, limit);
  }

  find(username: string): Subscriber {
    return this.store.get(username);
  }

  /** Removing a package only ever hides its channels (the package rule); adding one shows them. */
  changePackages(username: string, change: { add: string[]; remove: string[] }): Subscriber {
    return this.store.changePackages(username, change.add, change.remove);
  }

  /** Issues a new key; the old URL stops working at once. */
  rotate(username: string): IssuedUrl {
    const key = generatePlaylistKey();
    return this.store.transaction(() => {
      this.store.setKey(username, this.storedKey(key));
      return { subscriber: this.store.get(username), url: playlistUrl(this.publicUrl, key) };
    });
  }

  /**
   * A new XC password (generated, or the operator's own); the old one stops working at once, and
   * the playlist URL stays the same. Returns the password.
   * @throws BadInputError for a password outside the URL-safe rule.
   */
  rotatePassword(username: string, chosen?: string): string {
    if (chosen !== undefined && !isValidXcPassword(chosen))
      throw new BadInputError(`--password: not a valid XC password (${PASSWORD_RULE})`);
    const password = chosen ?? generateXcPassword();
    this.store.setXcPassword(username, this.storedPassword(password));
    return password;
  }

  /** The playlist URL and XC password as kept sealed, for the operator to re-send. */
  reveal(username: string): Revealed {
    const sealed = this.store.sealedCredentials(username);
    const seal = this.seal();
    const key = sealed.key === null ? undefined : seal.open(sealed.key);
    return {
      url: key === undefined ? undefined : playlistUrl(this.publicUrl, key),
      xcPassword: sealed.xcPassword === null ? undefined : seal.open(sealed.xcPassword),
    };
  }

  setEnabled(username: string, enabled: boolean): Subscriber {
    return this.change(username, { enabled });
  }

  /** For good: an explicit operator action, so it skips the recycle table that the prune job fills. */
  remove(username: string): void {
    this.store.remove(username);
  }

  /**
   * Puts back a subscriber the prune job took, with its key, packages and expiry as they were: its
   * old URL works again. Still lapsed, it is pruned again by the next run unless renewed.
   */
  restore(username: string): RestoredSubscriber {
    return this.store.restore(username);
  }

  /** @throws NotFoundError naming the username. */
  get(username: string): Subscriber {
    return this.store.get(username);
  }

  /** The server an XC app is given: PUBLIC_URL's scheme, host and port. */
  get serverUrl(): string {
    return new URL(this.publicUrl).origin;
  }

  /** Everyone, or with `expiredOnly` those who have lapsed by now. */
  list(options: { expiredOnly: boolean }): Subscriber[] {
    return options.expiredOnly ? this.store.listLapsedBy(toSqlTime(this.clock())) : this.store.list();
  }

  private storedKey(key: string): StoredCredential {
    return { hash: hashPlaylistKey(key), sealed: this.seal().seal(key) };
  }

  private storedPassword(password: string): StoredCredential {
    const seal = this.seal();
    return { hash: seal.passwordHash(password), sealed: seal.seal(password) };
  }

  /** `days` count from `from`; an `until` at or before `now` would lapse at once (the rule of access.ts). */
  private expiryFor(term: Term, from: number, now: number): SqlTime {
    if ('until' in term) {
      if (!term.allowPast && fromSqlTime(term.until) <= now) {
        throw new BadInputError(
          `--until: ${term.until} UTC has already passed, so the subscription would be expired at once (--allow-past if that is meant)`,
        );
      }
      return term.until;
    }
    if (!Number.isInteger(term.days) || term.days < 1 || term.days > MAX_TERM_DAYS) {
      throw new BadInputError(`--days: "${term.days}" is not a whole number from 1 to ${MAX_TERM_DAYS}`);
    }
    const expiresAt = toSqlTime(from + term.days * DAY);
    // A renewal far beyond a far expiry would leave the four-digit years that SQL compares as text.
    if (!/^\d{4}-/.test(expiresAt)) throw new BadInputError(`--days: ${term.days} more days would end after the year 9999`);
    return expiresAt;
  }
}
