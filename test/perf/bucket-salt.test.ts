import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketSalt } from '../../src/playlist/token-bucket.js';

const reference = (secret: string, id: number, ip: string, start: number) =>
  createHmac('sha256', secret).update(`${id}\n${ip}\n${start}`).digest('hex').slice(0, 32);

describe('the bucket salt without an Hmac object', () => {
  it("when any secret (short, a block long, longer, not ASCII) and any address are salted, then the salt is createHmac's", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.constant('k'.repeat(64))),
        fc.nat(),
        fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ minLength: 200, maxLength: 400 })),
        fc.nat(),
        (secret, id, ip, start) => {
          expect(bucketSalt(secret, id, ip, start)).toBe(reference(secret, id, ip, start));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('when secrets alternate, then each salt is still keyed with its own', () => {
    for (const secret of ['one', 'two', 'one', 'x'.repeat(100), 'two']) {
      expect(bucketSalt(secret, 7, '192.0.2.1', 1700000000)).toBe(reference(secret, 7, '192.0.2.1', 1700000000));
    }
  });
});
