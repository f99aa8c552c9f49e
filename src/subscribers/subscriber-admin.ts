import { BadInputError } from '../errors.js';
import { playlistUrl } from '../routes.js';
import { type Clock, fromSqlTime, type SqlTime, toSqlTime } from '../time.js';
import { generatePlaylistKey, hashPlaylistKey } from './keys.js';
import type { Subscriber } from './subscriber.js';
import type { SubscriberStorage } from './subscriber-storage.js';

const DAY = 86_400;
export const DEFAULT_SUBSCRIPTION_DAYS = 30;

/** How long a subscription runs: a number of days, or until a date. */
export type Term = { days: number } | { until: SqlTime };

export interface IssuedUrl {
  subscriber: Subscriber;
  /** The playlist URL; the only time the key is seen. */
  url: string;
}

/** `YYYY-MM-DD` (end of that day, UTC) or `YYYY-MM-DD HH:MM[:SS]` or ISO → `YYYY-MM-DD HH:MM:SS`. */
export function parseUntil(text: string): SqlTime {
  const trimmed = text.trim();
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(trimmed);
  const iso = dateOnly ? `${trimmed}T23:59:59Z` : trimmed.replace(' ', 'T').replace(/(T\d{2}:\d{2})$/, '$1:00');
  const millis = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(iso) ? iso : `${iso}Z`);
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed) || Number.isNaN(millis)) {
    throw new BadInputError(`--until: "${text}" is not a date (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, UTC)`);
  }
  return toSqlTime(Math.floor(millis / 1000));
}

/** What operators do to subscribers, with the rules that the CLI and the seed share. */
export class SubscriberAdmin {
  constructor(
    private readonly store: SubscriberStorage,
    private readonly publicUrl: string,
    private readonly clock: Clock,
  ) {}

  add(input: { username: string; term: Term; packages: string[]; maxConnections: number; note?: string }): IssuedUrl {
    const key = generatePlaylistKey();
    const subscriber = this.store.add({
      username: input.username,
      keyHash: hashPlaylistKey(key),
      expiresAt: this.expiryFor(input.term, this.clock()),
      packages: input.packages,
      maxConnections: input.maxConnections,
      note: input.note ?? '',
    });
    return { subscriber, url: playlistUrl(this.publicUrl, key) };
  }

  /** `--days N` extends from the current expiry if it is still ahead, so early renewals lose nothing. */
  renew(username: string, term: Term): Subscriber {
    const current = fromSqlTime(this.store.get(username).expiresAt);
    const from = Math.max(current, this.clock());
    this.store.setExpiry(username, this.expiryFor(term, from));
    return this.store.get(username);
  }

  /** Removing a package only ever hides its channels (the package rule); adding one shows them. */
  changePackages(username: string, change: { add: string[]; remove: string[] }): Subscriber {
    return this.store.changePackages(username, change.add, change.remove);
  }

  /** Issues a new key; the old URL stops working at once. */
  rotate(username: string): IssuedUrl {
    const key = generatePlaylistKey();
    this.store.setKeyHash(username, hashPlaylistKey(key));
    return { subscriber: this.store.get(username), url: playlistUrl(this.publicUrl, key) };
  }

  setEnabled(username: string, enabled: boolean): Subscriber {
    this.store.setEnabled(username, enabled);
    return this.store.get(username);
  }

  remove(username: string): void {
    this.store.remove(username);
  }

  /** Everyone, or with `expiredOnly` those who have lapsed by now. */
  list(options: { expiredOnly: boolean }): Subscriber[] {
    return options.expiredOnly ? this.store.listLapsedBy(toSqlTime(this.clock())) : this.store.list();
  }

  private expiryFor(term: Term, from: number): SqlTime {
    if ('until' in term) return term.until;
    if (!Number.isInteger(term.days) || term.days < 1) throw new BadInputError('--days must be a whole number ≥ 1');
    return toSqlTime(from + term.days * DAY);
  }
}
