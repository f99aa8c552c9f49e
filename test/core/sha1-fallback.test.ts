import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { compileCase, GOLDEN_CASES } from '../fixtures/golden/cases.js';

const golden = (name: string) => readFileSync(join(import.meta.dirname, '../fixtures/golden', `${name}.m3u`));

/** A fresh copy of the render and the kernel loader, whose once-per-process decision is not yet made. */
async function freshRender() {
  vi.resetModules();
  const render = await import('../../src/playlist/render.js');
  const lanes = await import('../../src/signing/sha1-lanes.js');
  return { renderPlaylist: render.renderPlaylist, ...lanes };
}

interface KernelExports {
  memory: unknown;
  fill(...args: number[]): void;
}

/** Ways a runtime can refuse the kernel, each set up until the returned function undoes it. */
const refusals: Record<string, () => () => void> = {
  'WebAssembly refuses to compile the kernel': () => {
    // biome-ignore lint/complexity/useArrowFunction: called with `new`, which an arrow function refuses.
    const spy = vi.spyOn(WebAssembly, 'Module').mockImplementation(function () {
      throw new Error('CompileError: WebAssembly.Module(): invalid simd opcode');
    });
    return () => {
      expect(spy).toHaveBeenCalled();
      spy.mockRestore();
    };
  },
  'WebAssembly.validate says no (a runtime without SIMD)': () => {
    const spy = vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    return () => {
      expect(spy).toHaveBeenCalled();
      spy.mockRestore();
    };
  },
  'there is no WebAssembly at all (node --jitless)': () => {
    vi.stubGlobal('WebAssembly', undefined);
    return () => vi.unstubAllGlobals();
  },
  'the kernel compiles but its digests are wrong': () => {
    const RealInstance = WebAssembly.Instance;
    // The real kernel told the suffix is empty: well-formed hex, and not the SHA-1 asked for.
    // biome-ignore lint/complexity/useArrowFunction: called with `new`, which an arrow function refuses.
    const spy = vi.spyOn(WebAssembly, 'Instance').mockImplementation(function (module: WebAssembly.Module) {
      const real = new RealInstance(module).exports as unknown as KernelExports;
      const fill = (...args: number[]) => real.fill(...args.map((value, i) => (i === 4 ? 0 : value)));
      return { exports: { memory: real.memory, fill } } as unknown as WebAssembly.Instance;
    });
    return () => {
      expect(spy).toHaveBeenCalled();
      spy.mockRestore();
    };
  },
};

describe('signing without the SIMD kernel', () => {
  beforeEach(() => vi.resetModules());
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  for (const [refusal, refuse] of Object.entries(refusals)) {
    it(`when ${refusal}, then every golden playlist renders byte for byte through crypto.hash, and the decision holds`, async () => {
      const { renderPlaylist, sha1LanesAvailable, writeSha1Fills } = await freshRender();
      const undo = refuse();
      const [first, ...rest] = GOLDEN_CASES;
      // The first render is the first use: the kernel is tried, refused, and signing goes on without it.
      expect(renderPlaylist(compileCase(first!), first!.viewer).equals(golden(first!.name))).toBe(true);
      undo();
      // Decided once per process: a working WebAssembly now changes nothing.
      expect(sha1LanesAvailable()).toBe(false);
      for (const input of rest) {
        expect(renderPlaylist(compileCase(input), input.viewer).equals(golden(input.name)), input.name).toBe(true);
      }
      expect(() => writeSha1Fills(Buffer.alloc(0), Buffer.alloc(0), [])).toThrow(/unavailable/);
    });
  }

  it('when WebAssembly works, then the kernel passes its self-test and is the signer in use', async () => {
    const { renderPlaylist, sha1LanesAvailable } = await freshRender();
    const input = GOLDEN_CASES[0]!;
    expect(renderPlaylist(compileCase(input), input.viewer).equals(golden(input.name))).toBe(true);
    expect(sha1LanesAvailable()).toBe(true);
  });
});
