import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HashSubject } from '../../src/signing/hash-subject.js';

const sha1 = (text: string) => createHash('sha1').update(text, 'utf8').digest('hex');

/** What the subject writes, read back from around it: nothing before or after may change. */
function written(subject: HashSubject, suffix: string): string {
  const out = Buffer.alloc(50, '.');
  subject.writeSha1Hex(Buffer.from(suffix, 'utf8'), out, 5);
  expect(out.subarray(0, 5).toString()).toBe('.....');
  expect(out.subarray(45).toString()).toBe('.....');
  return out.subarray(5, 45).toString('latin1');
}

describe('a prepared hash subject', () => {
  it('when it is hashed with suffixes of changing lengths, some longer than its room, then each digest written is sha1 of the text and that suffix, in hex, and nothing around it changes', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 30 }),
        // Padding up to 300 bytes crosses the 128 bytes of room a subject starts with.
        fc.array(
          fc
            .tuple(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.nat({ max: 300 }))
            .map(([text, padding]) => text + '.'.repeat(padding)),
          { minLength: 1, maxLength: 8 },
        ),
        (text, suffixes) => {
          const subject = new HashSubject(text);
          for (const suffix of suffixes) {
            expect(written(subject, suffix)).toBe(sha1(text + suffix));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('when a long suffix is followed by a short one, then the short digest does not include the long tail', () => {
    const subject = new HashSubject('live/ch1');
    const long = 'k'.repeat(500);
    expect(written(subject, long)).toBe(sha1(`live/ch1${long}`));
    expect(written(subject, '203.0.113.7')).toBe(sha1('live/ch1203.0.113.7'));
    expect(written(subject, '')).toBe(sha1('live/ch1'));
  });
});
