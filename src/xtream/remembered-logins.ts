import type { CredentialSeal } from '../subscribers/credentials.js';
import { SubscriberChangeFollower, type SubscriberChangeLog } from '../subscribers/remembered-access.js';
import { RememberedBySubscriber } from '../subscribers/remembered-by-subscriber.js';
import type { XcLogin } from '../subscribers/subscriber.js';

/** Where an XC app's username is looked up. */
export interface XcLoginSource {
  findXcLogin(username: string): XcLogin | undefined;
}

/**
 * Username and password as one map key; the length first, so that no two pairs give one key
 * whatever characters either holds.
 */
const credentialsKey = (username: string, password: string) => `${username.length}:${username}${password}`;

/**
 * XC logins, remembered until their subscriber changes (the change log, as RememberedAccess
 * follows it): a line zaps through `/live/…` links, each a login by the same username and
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
 */
export class RememberedLogins {
  /** Subscribers found by username, whatever password came with it. */
  private readonly byUsername: RememberedBySubscriber<string, XcLogin>;
  /** Logins by their proven credentials (credentialsKey); one pair per subscriber. */
  private readonly proven: RememberedBySubscriber<string, XcLogin>;
  private readonly follower: SubscriberChangeFollower;

  /** `currentGeneration` must already reflect this request's check of the database (LineupCache.refresh). */
  constructor(
    private readonly source: XcLoginSource,
    private readonly seal: () => CredentialSeal,
    changes: SubscriberChangeLog,
    currentGeneration: () => number,
    maxEntries: number,
  ) {
    this.follower = new SubscriberChangeFollower(changes, currentGeneration);
    this.byUsername = new RememberedBySubscriber(maxEntries);
    this.proven = new RememberedBySubscriber(maxEntries);
  }

  /** The subscriber whose XC username and password these are, or undefined. */
  find(username: string, password: string): XcLogin | undefined {
    this.forgetChanged();
    const key = credentialsKey(username, password);
    const proven = this.proven.get(key);
    if (proven !== undefined) return proven;
    const login = this.findByUsername(username);
    if (login === undefined || login.xcPasswordHash === null || !this.seal().passwordMatches(password, login.xcPasswordHash)) {
      return undefined;
    }
    this.proven.remember(key, login);
    return login;
  }

  private findByUsername(username: string): XcLogin | undefined {
    const remembered = this.byUsername.get(username);
    if (remembered !== undefined) return remembered;
    const found = this.source.findXcLogin(username);
    if (found === undefined) return undefined;
    this.byUsername.remember(username, found);
    return found;
  }

  private forgetChanged(): void {
    const changed = this.follower.changed();
    if (changed === undefined) {
      this.byUsername.clear();
      this.proven.clear();
      return;
    }
    for (const id of changed) {
      this.byUsername.forgetSubscriber(id);
      this.proven.forgetSubscriber(id);
    }
  }
}
