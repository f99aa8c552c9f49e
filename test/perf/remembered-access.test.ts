import { describe, expect, it } from 'vitest';
import type { AccessSource } from '../../src/subscribers/access.js';
import { RememberedAccess, SubscriberChangeFollower, type SubscriberChangeLog } from '../../src/subscribers/remembered-access.js';
import type { SubscriberAccess } from '../../src/subscribers/subscriber.js';

/** An in-memory directory that counts how often it is asked. */
function directory(known: string[]) {
  const asked: string[] = [];
  const source: AccessSource = {
    findAccess: (keyHash) => {
      asked.push(keyHash);
      return known.includes(keyHash)
        ? ({
            id: known.indexOf(keyHash),
            username: keyHash,
            expiresAt: '2030-01-01 00:00:00',
            enabled: true,
            maxConnections: 1,
            packageIds: [],
          } satisfies SubscriberAccess)
        : undefined;
    },
    retiredReason: () => undefined,
    findAccessByUsername: () => {
      throw new Error('not used');
    },
  };
  return { source, asked };
}

/** A synchronous source's lookup answers at once, never with a promise. */
function atHand(found: SubscriberAccess | undefined | Promise<unknown>): SubscriberAccess | undefined {
  if (found instanceof Promise) throw new Error('a synchronous lookup answered with a promise');
  return found;
}

/** A log that can never tell who changed: each generation forgets everyone. */
const untold: SubscriberChangeLog = { changesSince: () => ({ cursor: { seq: 0, schemaVersion: 0 }, changed: undefined }) };

describe('subscribers remembered between database changes', () => {
  it('when the same key comes back within a generation, then the database is asked once; after the generation moves, it is asked again', () => {
    const { source, asked } = directory(['a']);
    let generation = 1;
    const remembered = new RememberedAccess(source, new SubscriberChangeFollower(untold, () => generation), 10);
    expect(atHand(remembered.findAccess('a'))?.username).toBe('a');
    expect(atHand(remembered.findAccess('a'))?.username).toBe('a');
    expect(asked).toEqual(['a']);
    generation = 2;
    remembered.findAccess('a');
    expect(asked).toEqual(['a', 'a']);
  });

  it('when a key is unknown, then it is asked about every time, and never remembered as a subscriber', () => {
    const { source, asked } = directory([]);
    const remembered = new RememberedAccess(source, new SubscriberChangeFollower(untold, () => 1), 10);
    expect(atHand(remembered.findAccess('x'))).toBeUndefined();
    expect(atHand(remembered.findAccess('x'))).toBeUndefined();
    expect(asked).toEqual(['x', 'x']);
  });

  it('when more subscribers come than it holds, then the first remembered is the first forgotten', () => {
    const { source, asked } = directory(['a', 'b', 'c']);
    const remembered = new RememberedAccess(source, new SubscriberChangeFollower(untold, () => 1), 2);
    for (const key of ['a', 'b', 'c', 'c', 'b', 'a']) remembered.findAccess(key);
    expect(asked).toEqual(['a', 'b', 'c', 'a']);
  });
});
