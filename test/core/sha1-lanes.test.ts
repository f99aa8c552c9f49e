import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Sha1Batch, Sha1Lanes, type Sha1Slot, sha1Slots, writeSha1Fills } from '../../src/signing/sha1-lanes.js';
import { sha1LanesModule } from '../../src/signing/sha1-lanes-kernel.js';
import { SHA1_LANES_WASM } from '../../src/signing/sha1-lanes-wasm.js';

const sha1Hex = (...parts: Buffer[]) => createHash('sha1').update(Buffer.concat(parts)).digest('hex');

interface Case {
  subjects: Buffer[];
  suffix: Buffer;
  before: string;
  after: string;
  /** Which subjects also fill a second slot. */
  copied: boolean[];
}

/**
 * Lays out one slot per subject (and a second one where `copied`) with filler between them, so
 * that a write out of place shows, and returns the template, the batch and where each slot is.
 */
function laidOut({ subjects, suffix, before, after, copied }: Case) {
  const frame = Buffer.from(before + ' '.repeat(40) + after, 'latin1');
  const gap = 3;
  const slots: Sha1Slot[] = [];
  let subjectStart = 0;
  let at = gap;
  for (const subject of subjects) {
    slots.push({ subjectStart, subjectLength: subject.length, fillAt: at, copyAt: -1 });
    subjectStart += subject.length;
    at += frame.length + gap;
  }
  subjects.forEach((_, i) => {
    if (!copied[i]) return;
    slots[i]!.copyAt = at;
    at += frame.length + gap;
  });
  const template = Buffer.alloc(at, '~');
  const batch: Sha1Batch = { slots: sha1Slots(slots, subjects), fill: { frame, digestAt: before.length, suffix } };
  return { template, batch, slots, frame };
}

// size 'max': fast-check otherwise keeps generated lengths near ten, which never leaves one block.
const bytes = (maxLength: number) => fc.uint8Array({ maxLength, size: 'max' }).map((array) => Buffer.from(array));

const cases = fc.record({
  // Up to 200 bytes of subject plus up to 120 of suffix: messages of one to six blocks, mixed
  // within a group of four, and counts that leave a group part-full.
  subjects: fc.array(bytes(200), { minLength: 1, maxLength: 23, size: 'max' }),
  suffix: bytes(120),
  before: fc.stringMatching(/^[a-z=]{0,8}$/),
  after: fc.stringMatching(/^[a-z0-9-]{0,40}$/),
  copied: fc.array(fc.boolean(), { maxLength: 23, size: 'max' }),
});

describe('SHA-1 in SIMD lanes', () => {
  it('when the generator is run, then it writes exactly the bytes the service loads (else: npm run kernel)', () => {
    expect(Buffer.from(SHA1_LANES_WASM, 'base64').equals(Buffer.from(sha1LanesModule()))).toBe(true);
  });

  it('when slots of any lengths are filled, then each holds the frame with sha1(subject ‖ suffix) in hex, its copy is the same, and no other byte changes', () => {
    fc.assert(
      fc.property(cases, (input) => {
        const { template, batch, slots, frame } = laidOut(input);
        const out = Buffer.alloc(template.length, 0);
        writeSha1Fills(out, template, [batch]);
        const expected = Buffer.from(template);
        slots.forEach((slot, i) => {
          const fill = Buffer.from(input.before + sha1Hex(input.subjects[i]!, input.suffix) + input.after, 'latin1');
          fill.copy(expected, slot.fillAt);
          if (slot.copyAt >= 0) fill.copy(expected, slot.copyAt);
        });
        expect(frame.length).toBe(input.before.length + 40 + input.after.length);
        expect(out.toString('latin1')).toBe(expected.toString('latin1'));
      }),
      { numRuns: 300 },
    );
  });

  it('when messages straddle the padding boundaries (55, 56, 119, 120 bytes), in groups of four that mix one, two, three and more blocks, then every digest is right', () => {
    const suffix = Buffer.from('0123456789');
    // Subject + 10 bytes of suffix: 45 → 55 bytes (one block), 46 → 56 (two), 109 → 119 (two), 110 → 120 (three).
    const lengths = [45, 46, 109, 110, 0, 500, 46, 45, 110, 109, 1];
    const input: Case = { subjects: lengths.map((n) => Buffer.alloc(n, 'a')), suffix, before: '', after: '', copied: [] };
    const { template, batch, slots } = laidOut(input);
    const out = Buffer.alloc(template.length);
    writeSha1Fills(out, template, [batch]);
    slots.forEach((slot, i) => {
      expect(out.toString('latin1', slot.fillAt, slot.fillAt + 40)).toBe(sha1Hex(input.subjects[i]!, suffix));
    });
  });

  it('when two batches share one template (two origins), then each writes only its own slots', () => {
    const first = laidOut({
      subjects: [Buffer.from('bbc'), Buffer.from('live/ch1')],
      suffix: Buffer.from('one'),
      before: 't=',
      after: '',
      copied: [],
    });
    const secondSlots: Sha1Slot[] = [{ subjectStart: 0, subjectLength: 3, fillAt: first.template.length, copyAt: -1 }];
    const frame = Buffer.from(`t=${' '.repeat(40)}`, 'latin1');
    const second: Sha1Batch = {
      slots: sha1Slots(secondSlots, [Buffer.from('cnn')]),
      fill: { frame, digestAt: 2, suffix: Buffer.from('two') },
    };
    const template = Buffer.concat([first.template, Buffer.alloc(frame.length, '~')]);
    const out = Buffer.alloc(template.length);
    writeSha1Fills(out, template, [first.batch, second]);
    const at = (offset: number) => out.toString('latin1', offset + 2, offset + 42);
    expect(at(first.slots[0]!.fillAt)).toBe(sha1Hex(Buffer.from('bbc'), Buffer.from('one')));
    expect(at(first.slots[1]!.fillAt)).toBe(sha1Hex(Buffer.from('live/ch1'), Buffer.from('one')));
    expect(at(first.template.length)).toBe(sha1Hex(Buffer.from('cnn'), Buffer.from('two')));
  });

  it('when a body is filled in an instance, then it is a view of that instance alone: a fill of another instance leaves it be, and only its own next fill overwrites it', () => {
    const one = laidOut({ subjects: [Buffer.from('bbc')], suffix: Buffer.from('one'), before: 't=', after: '', copied: [] });
    const two = laidOut({ subjects: [Buffer.from('bbc')], suffix: Buffer.from('two'), before: 't=', after: '', copied: [] });
    const [first, second] = [Sha1Lanes.create()!, Sha1Lanes.create()!];
    const body = first.fill(one.template, [one.batch]);
    const kept = Buffer.from(body);
    expect(Sha1Lanes.owning(body)).toBe(first);
    expect(first.holds(one.template)).toBe(true);
    second.fill(two.template, [two.batch]);
    expect(body.equals(kept)).toBe(true);
    first.fill(two.template, [two.batch]);
    expect(body.equals(kept)).toBe(false);
    expect(body.toString('latin1', 5, 45)).toBe(sha1Hex(Buffer.from('bbc'), Buffer.from('two')));
  });

  it('when an instance is filled with a template larger than its memory, then the memory grows and the new body is still traced to it', () => {
    const lanes = Sha1Lanes.create()!;
    const small = laidOut({ subjects: [Buffer.from('a')], suffix: Buffer.from('s'), before: '', after: '', copied: [] });
    lanes.fill(small.template, [small.batch]);
    const before = lanes.bytes;
    const subjects = Array.from({ length: 5_000 }, (_, i) => Buffer.from(`live/channel-${i}`));
    const big = laidOut({ subjects, suffix: Buffer.from('s'), before: '', after: '', copied: [] });
    const body = lanes.fill(big.template, [big.batch]);
    expect(lanes.bytes).toBeGreaterThan(before);
    expect(Sha1Lanes.owning(body)).toBe(lanes);
    expect(body.toString('latin1', big.slots[4_999]!.fillAt, big.slots[4_999]!.fillAt + 40)).toBe(
      sha1Hex(subjects[4_999]!, Buffer.from('s')),
    );
  });

  it('when a playlist larger than any before is filled, then the kernel memory grows and the digests stay right', () => {
    const subjects = Array.from({ length: 20_000 }, (_, i) => Buffer.from(`live/channel-${i}`));
    const input: Case = {
      subjects,
      suffix: Buffer.from('198.51.100.7170000000017000108000123456789abcdef'),
      before: '',
      after: '',
      copied: [],
    };
    const { template, batch, slots } = laidOut(input);
    const out = Buffer.alloc(template.length);
    writeSha1Fills(out, template, [batch]);
    for (const i of [0, 1, 4_999, 19_999]) {
      expect(out.toString('latin1', slots[i]!.fillAt, slots[i]!.fillAt + 40)).toBe(sha1Hex(subjects[i]!, input.suffix));
    }
  });
});
