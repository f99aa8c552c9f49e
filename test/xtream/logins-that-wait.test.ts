import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { CredentialSeal } from '../../src/subscribers/credentials.js';
import type { ChangedSubscribers } from '../../src/subscribers/remembered-access.js';
import type { XcLogin } from '../../src/subscribers/subscriber.js';
import { RememberedLogins, type XcLoginSource } from '../../src/xtream/remembered-logins.js';

const seal = new CredentialSeal(randomBytes(32));

/** A PostgreSQL-like store: each lookup reads the rows as they are when asked, and answers when the test releases it. */
class HeldLogins implements XcLoginSource {
  readonly rows = new Map<string, XcLogin>();
  readonly asked: string[] = [];
  private held: (() => void)[] = [];

  findXcLogin(username: string): Promise<XcLogin | undefined> {
    this.asked.push(username);
    const row = this.rows.get(username);
    const read = row && { ...row };
    return new Promise((resolve) => this.held.push(() => resolve(read)));
  }

  release(): void {
    const held = this.held;
    this.held = [];
    for (const deliver of held) deliver();
  }
}

/** What the change feed hands a follower: the ids notified since its last call, once. */
class NotifiedIds implements ChangedSubscribers {
  private ids: number[] | undefined = [];

  notify(ids: number[] | '*'): void {
    if (ids === '*') this.ids = undefined;
    else this.ids?.push(...ids);
  }

  changed(): readonly number[] | undefined {
    const { ids } = this;
    this.ids = [];
    return ids;
  }
}

const login = (id: number, username: string, password: string): XcLogin => ({
  id,
  username,
  expiresAt: '2027-01-01 00:00:00',
  enabled: true,
  maxConnections: 1,
  packageIds: [],
  createdAt: '2026-01-01 00:00:00',
  xcPasswordHash: seal.passwordHash(password),
});

describe('XC logins whose lookups wait (PostgreSQL)', () => {
  let store: HeldLogins;
  let feed: NotifiedIds;
  let logins: RememberedLogins;

  beforeEach(() => {
    store = new HeldLogins();
    store.rows.set('alice', login(1, 'alice', 'old-pass'));
    store.rows.set('bob', login(2, 'bob', 'bob-pass'));
    feed = new NotifiedIds();
    logins = new RememberedLogins(store, () => seal, feed, 100);
  });

  it('when nothing changes while a login waits, then it is remembered: the next one answers at once, without a lookup', async () => {
    const first = logins.find('alice', 'old-pass');
    expect(first).toBeInstanceOf(Promise);
    store.release();
    expect((await first)?.id).toBe(1);
    const again = logins.find('alice', 'old-pass');
    expect(again).not.toBeInstanceOf(Promise);
    expect((again as XcLogin | undefined)?.id).toBe(1);
    expect(store.asked).toEqual(['alice']);
  });

  it.each([
    ['its id', [1] as number[] | '*'],
    ['everyone', '*' as const],
  ])(
    'when the feed names %s while its login waits (a rotation), then that login answers its own request but is not remembered',
    async (_, ids) => {
      const pending = logins.find('alice', 'old-pass');
      store.rows.set('alice', login(1, 'alice', 'new-pass'));
      feed.notify(ids);
      store.release();
      // Read before the rotation committed: right for the request that asked before it.
      expect((await pending)?.id).toBe(1);
      const next = logins.find('alice', 'old-pass');
      expect(next).toBeInstanceOf(Promise);
      store.release();
      expect(await next).toBeUndefined();
      expect(store.asked).toEqual(['alice', 'alice']);
    },
  );

  it('when a wrong password comes for a username not yet seen, then it waits for the lookup and is refused; the username is kept, the password is not', async () => {
    const wrong = logins.find('bob', 'wrong');
    store.release();
    expect(await wrong).toBeUndefined();
    // The username is remembered (found by it again without a query), and the right password proves it.
    expect(logins.find('bob', 'bob-pass')).toMatchObject({ id: 2 });
    expect(logins.find('bob', 'wrong')).toBeUndefined();
    expect(store.asked).toEqual(['bob']);
  });
});
