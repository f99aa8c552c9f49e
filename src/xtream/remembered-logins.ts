import type { Awaitable } from '../awaitable.js';
import type { CredentialSeal } from '../subscribers/credentials.js';
import type { ChangedSubscribers } from '../subscribers/remembered-access.js';
import { RememberedBySubscriber } from '../subscribers/remembered-by-subscriber.js';
import type { XcLogin } from '../subscribers/subscriber.js';

/** Where an XC app's username is looked up: at once (SQLite) or after a round trip (PostgreSQL). */
export interface XcLoginSource {
  findXcLogin(username: string): Awaitable<XcLogin | undefined>;
}

/**
 * Username and password as one map key; the length first, so that no two pairs give one key
 * whatever characters either holds.
 */
const credentialsKey = (username: string, password: string) => `${username.length}:${username}${password}`;

/**
 * XC logins, remembered until their subscriber changes (as RememberedAccess, from the changes
 * it is told of: SQLite's change log, PostgreSQL's change feed): a line zaps through `/live/…` links, each a login by the same username and
 * password, and each would otherwise cost the keyed hash of the password.
 *
 * A username and password once proven are kept together as a map key, so that their next login
 * is one map lookup and no hash at all. That key holds the password in this process's memory, as
 * its request URL did: acceptable, since this process also holds the credentials key, which opens
 * every password sealed in the database, so reading its memory reveals nothing more by it. The key
 * never leaves the map: the wrong-password error carries a digest, and nothing here logs or counts.
 * Any other password (a wrong one, or a new one after a rotation) goes through the keyed hash as
 * before, found by username without a query once the username has been seen. Unknown usernames are
 * not remembered: they are the guess limiter's business.
 *
 * A lookup that waits (PostgreSQL) may have read the database before a change that is forgotten
 * while it waits: it answers its own request, but is not remembered, as in RememberedAccess.
 */
export class RememberedLogins {
  /** Subscribers found by username, whatever password came with it. */
  private readonly byUsername: RememberedBySubscriber<string, XcLogin>;
  /** Logins by their proven credentials (credentialsKey); one pair per subscriber. */
  private readonly proven: RememberedBySubscriber<string, XcLogin>;
  /** Moves at each forget (of anyone, or of everyone): a lookup that saw it move is not remembered. */
  private forgets = 0;

  /** `changes`: this cache's own (a follower drains what it reports). */
  constructor(
    private readonly source: XcLoginSource,
    private readonly seal: () => CredentialSeal,
    private readonly changes: ChangedSubscribers,
    maxEntries: number,
  ) {
    this.byUsername = new RememberedBySubscriber(maxEntries);
    this.proven = new RememberedBySubscriber(maxEntries);
  }

  /** The subscriber whose XC username and password these are, or undefined. */
  find(username: string, password: string): Awaitable<XcLogin | undefined> {
    this.forgetChanged();
    const key = credentialsKey(username, password);
    const proven = this.proven.get(key);
    if (proven !== undefined) return proven;
    const remembered = this.byUsername.get(username);
    if (remembered !== undefined) return this.prove(key, password, remembered, true);
    const found = this.source.findXcLogin(username);
    if (!(found instanceof Promise)) {
      if (found !== undefined) this.byUsername.remember(username, found);
      return this.prove(key, password, found, true);
    }
    const forgetsBefore = this.forgets;
    return found.then((login) => {
      this.forgetChanged();
      const current = this.forgets === forgetsBefore;
      if (login !== undefined && current) this.byUsername.remember(username, login);
      return this.prove(key, password, login, current);
    });
  }

  /** The login if the password is its own (the keyed hash, whichever way it ends), kept as proven when `remember`. */
  private prove(key: string, password: string, login: XcLogin | undefined, remember: boolean): XcLogin | undefined {
    if (login === undefined || login.xcPasswordHash === null || !this.seal().passwordMatches(password, login.xcPasswordHash)) {
      return undefined;
    }
    if (remember) this.proven.remember(key, login);
    return login;
  }

  private forgetChanged(): void {
    const changed = this.changes.changed();
    if (changed === undefined) {
      this.byUsername.clear();
      this.proven.clear();
    } else if (changed.length === 0) {
      return;
    } else {
      for (const id of changed) {
        this.byUsername.forgetSubscriber(id);
        this.proven.forgetSubscriber(id);
      }
    }
    this.forgets++;
  }
}
