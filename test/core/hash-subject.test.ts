import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HashSubject } from '../../src/signing/hash-subject.js';

const sha1 = (text: string) => createHash('sha1').update(text, 'utf8').digest('hex');

describe('a prepared hash subject', () => {
  it('when it is hashed with suffixes of changing lengths, some longer than its room, then each digest is sha1 of the text and that suffix', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 30 }),
        // Padding up to 300 bytes crosses the 128 bytes of room a subject starts with.
        fc.array(
          fc.tuple(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.nat({ max: 300 })).map(([text, padding]) => text + '.'.repeat(padding)),
          { minLength: 1, maxLength: 8 },
        ),
        (text, suffixes) => {
          const subject = new HashSubject(text);
          for (const suffix of suffixes) {
            expect(subject.sha1With(Buffer.from(suffix, 'utf8'))).toBe(sha1(text + suffix));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('when a long suffix is followed by a short one, then the short digest does not include the long tail', () => {
    const subject = new HashSubject('live/ch1');
    const long = 'k'.repeat(500);
    expect(subject.sha1With(Buffer.from(long))).toBe(sha1(`live/ch1${long}`));
    expect(subject.sha1With(Buffer.from('203.0.113.7'))).toBe(sha1('live/ch1203.0.113.7'));
    expect(subject.sha1With(Buffer.from(''))).toBe(sha1('live/ch1'));
  });
});
