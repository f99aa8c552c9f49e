import fc from 'fast-check';
import { expect, it } from 'vitest';
import { parseUpstreamM3u } from '../../src/import/upstream-m3u.js';

const segment = fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,11}$/).filter((s) => s !== '.' && s !== '..' && !s.includes('..'));
const stream = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
const name = fc
  .stringMatching(/^[\p{L}\p{N} &+()!-]{1,30}$/u)
  .map((s) => s.trim())
  .filter((s) => s !== '');
const suffix = fc.constantFrom('index.m3u8', 'video.m3u8', 'mpegts');

it('when any file of well-formed entries is written with any line ends and leading blank lines, then every entry comes back with its file line', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.record({ stream, name, suffix, number: fc.nat(9999) }), { selector: (e) => e.stream, maxLength: 15 }),
      fc.constantFrom('\n', '\r\n'),
      fc.nat(3),
      fc.boolean(),
      (channels, eol, blankLines, bom) => {
        const lines = ['#EXTM3U'];
        for (const c of channels) {
          lines.push(`#EXTINF:-1 tvg-chno="${c.number}" group-title="G",${c.name}`, `http://fl.example/${c.stream}/${c.suffix}?token=old`);
        }
        const text = (bom ? '\uFEFF' : '') + eol.repeat(blankLines) + lines.join(eol) + eol;
        const { entries, skipped } = parseUpstreamM3u(text);
        expect(skipped).toEqual([]);
        expect(entries.map((e) => [e.line, e.stream, e.name, e.number])).toEqual(
          channels.map((c, i) => [blankLines + 2 + 2 * i, c.stream, c.name, c.number]),
        );
      },
    ),
    { numRuns: 200 },
  );
});
