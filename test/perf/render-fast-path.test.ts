import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePlaylist, extinfLine } from '../../src/playlist/compile.js';
import type { Channel } from '../../src/playlist/lineup.js';
import { renderPlaylist } from '../../src/playlist/render.js';
import type { Origin } from '../../src/signing/origin.js';
import { signStreamUrl } from '../../src/signing/sign.js';

const text = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '"', ',', '\r', '\n', 'é', '😀', '#', '/', '-') });

const channel = fc.record({
  id: fc.nat(),
  stream: fc.stringMatching(/^[a-z0-9][a-z0-9 ,/é-]{0,20}$/),
  name: text,
  number: fc.option(fc.nat({ max: 9999 }), { nil: null }),
  groupTitle: text,
  logo: text,
  tvgId: text,
  catchupDays: fc.constant(0),
  radio: fc.boolean(),
  origin: fc.constant(null),
  packageIds: fc.constant([]),
}) satisfies fc.Arbitrary<Channel>;

const origin = fc.record({
  name: fc.constant('default'),
  baseUrl: fc.constantFrom('http://origin.test', 'https://cdn.example.net:8443/base'),
  scheme: fc.constantFrom('flussonic' as const, 'nginx' as const),
  secret: fc.string({ minLength: 1, maxLength: 40 }),
  ipBinding: fc.constantFrom('strict' as const, 'none' as const),
  hashSubject: fc.constantFrom('stream' as const, 'id' as const, 'path' as const),
  tokenTtl: fc.integer({ min: 60, max: 100_000 }),
  tokenDesync: fc.integer({ min: 0, max: 600 }),
}) satisfies fc.Arbitrary<Origin>;

describe('the one-buffer render', () => {
  it('when any lineup is rendered (one origin or two with fills of other lengths), then the bytes equal the plain per-channel signing', () => {
    fc.assert(
      fc.property(
        fc.array(channel, { maxLength: 12 }),
        origin,
        origin,
        fc.constantFrom('hls' as const, 'ts' as const),
        fc.constantFrom('203.0.113.7', '2001:db8::1'),
        fc.integer({ min: 1_600_000_000, max: 2_000_000_000 }),
        fc.stringMatching(/^[0-9a-f]{16,32}$/),
        (channels, first, second, format, ip, now, salt) => {
          const originOf = (c: Channel) => (c.id % 2 === 0 ? first : second);
          const compiled = compilePlaylist(channels, originOf, format, {});
          const expected =
            '#EXTM3U\n' +
            channels.map((c) => `${extinfLine(c) + signStreamUrl(c.stream, ip, now, { origin: originOf(c), format, salt })}\n`).join('');
          const rendered = renderPlaylist(compiled, { ip, now, salt });
          expect(rendered.equals(Buffer.from(expected, 'utf8'))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
