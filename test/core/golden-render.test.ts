import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BufferRecycler } from '../../src/playlist/buffer-recycler.js';
import { renderPlaylist } from '../../src/playlist/render.js';
import { sha1LanesAvailable } from '../../src/signing/sha1-lanes.js';
import { compileCase, GOLDEN_CASES } from '../fixtures/golden/cases.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';

const golden = (name: string) => readFileSync(join(import.meta.dirname, '../fixtures/golden', `${name}.m3u`));

describe('renders held to golden files', () => {
  for (const input of GOLDEN_CASES) {
    it(`when ${input.name} is rendered on a fixed clock and salt, then the bytes are the golden file's`, () => {
      const compiled = compileCase(input);
      const first = renderPlaylist(compiled, input.viewer);
      // Again on the same compiled playlist: the second render reuses the layout made by the first.
      const second = renderPlaylist(compiled, input.viewer, { allocate: (size) => Buffer.alloc(size, '#') });
      expect(first.equals(golden(input.name))).toBe(true);
      expect(second.equals(golden(input.name))).toBe(true);
      // Here through the SIMD kernel; sha1-fallback.test.ts holds the same files to the path without it.
      expect(sha1LanesAvailable()).toBe(true);
    });
  }

  it('when every case is rendered in pooled kernel memory, given back and rendered again, each other case in between, then the bytes are still the golden files', () => {
    const recycler = new BufferRecycler(64 * 1024 * 1024);
    const pooled = { allocate: (size: number) => recycler.take(size), lanes: (template: Buffer) => recycler.takeLanes(template) };
    const compiled = GOLDEN_CASES.map(compileCase);
    for (let round = 0; round < 3; round++) {
      GOLDEN_CASES.forEach((input, i) => {
        const body = renderPlaylist(compiled[i]!, input.viewer, pooled);
        expect(body.equals(golden(input.name)), `${input.name}, round ${round}`).toBe(true);
        recycler.give(body);
      });
    }
    // Two bodies held at once are filled in two instances, each its own.
    const held = [
      renderPlaylist(compiled[0]!, GOLDEN_CASES[0]!.viewer, pooled),
      renderPlaylist(compiled[0]!, GOLDEN_CASES[0]!.viewer, pooled),
    ];
    expect(held[0]!.buffer).not.toBe(held[1]!.buffer);
    for (const body of held) expect(body.equals(golden(GOLDEN_CASES[0]!.name))).toBe(true);
  });

  it('when the one-origin golden file is read, then every token in it verifies from the spec', () => {
    const input = GOLDEN_CASES.find((candidate) => candidate.name === 'flussonic-hls')!;
    const urls = golden(input.name)
      .toString('utf8')
      .split('\n')
      .flatMap((line) => [...line.matchAll(/http:\/\/flussonic\.test:8080\/[^"\s]*token=[^"\s]*/g)].map((match) => match[0]));
    expect(urls.length).toBeGreaterThan(30);
    for (const url of urls) {
      const stream = decodeURIComponent(new URL(url).pathname.slice(1).replace(/\/[^/]*$/, ''));
      const check = verifySecuretokenUrl(url, { key: 'golden-securetoken-key', ip: input.viewer.ip, stream });
      expect(check.reason, url).toBe('');
      expect(check.starttime).toBe(input.viewer.now - 300);
    }
  });
});
