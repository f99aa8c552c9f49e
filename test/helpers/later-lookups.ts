import type { AccessLookup, AccessSource } from '../../src/subscribers/access.js';
import type { RetiredReason, SubscriberAccess } from '../../src/subscribers/subscriber.js';

/**
 * A real store's lookups answered as a network database answers them: read now, delivered in a
 * later turn; or, while `hold()` is on, only when the test calls `release()`. A lookup so held
 * carries what the database said when it was asked, as a query that ran before a change committed
 * but whose answer arrives after the change was notified.
 */
export class LaterLookups implements AccessLookup {
  /** Every lookup asked, by key hash or username, in order. */
  readonly asked: string[] = [];
  private held: (() => void)[] | undefined;

  /** `store`: undefined until the test has one (a server's database is made as it starts). */
  constructor(public store?: AccessSource) {}

  findAccess(keyHash: string): Promise<SubscriberAccess | undefined> {
    this.asked.push(keyHash);
    return this.later(() => this.source.findAccess(keyHash));
  }

  retiredReason(keyHash: string): Promise<RetiredReason | undefined> {
    return this.later(() => this.source.retiredReason(keyHash));
  }

  findAccessByUsername(username: string): Promise<SubscriberAccess> {
    this.asked.push(username);
    return this.later(() => this.source.findAccessByUsername(username));
  }

  /** From now on, lookups wait for `release()`. */
  hold(): void {
    this.held ??= [];
  }

  /** Delivers every held lookup, and stops holding. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const deliver of held) deliver();
  }

  private get source(): AccessSource {
    if (!this.store) throw new Error('LaterLookups: no store yet');
    return this.store;
  }

  private later<T>(read: () => T): Promise<T> {
    let outcome: { value: T } | { error: unknown };
    try {
      outcome = { value: read() };
    } catch (error) {
      outcome = { error };
    }
    return new Promise<T>((resolve, reject) => {
      const deliver = () => ('value' in outcome ? resolve(outcome.value) : reject(outcome.error));
      if (this.held) this.held.push(deliver);
      else setImmediate(deliver);
    });
  }
}
