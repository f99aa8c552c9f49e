import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

describe('TOKEN_BUCKET', () => {
  it('when nothing is set, then the bucket is 300 s under the default 3-hour TTL', () => {
    expect(loadConfig({}).tokenBucket).toBe(300);
  });

  it('when only a short TOKEN_TTL is set, then the default bucket shrinks to a tenth of it instead of failing', () => {
    const config = loadConfig({ TOKEN_TTL: '120' });
    expect(config.tokenTtl).toBe(120);
    expect(config.tokenBucket).toBe(12);
  });

  it('when TOKEN_BUCKET is set at or above TOKEN_TTL, then the start fails naming TOKEN_BUCKET', () => {
    expect(() => loadConfig({ TOKEN_TTL: '600', TOKEN_BUCKET: '600' })).toThrow(ConfigError);
    expect(() => loadConfig({ TOKEN_TTL: '600', TOKEN_BUCKET: '600' })).toThrow(/^TOKEN_BUCKET must be less than TOKEN_TTL/);
  });

  it('when TOKEN_BUCKET is 0, then every response is signed afresh', () => {
    expect(loadConfig({ TOKEN_BUCKET: '0' }).tokenBucket).toBe(0);
  });

  it('when TOKEN_BUCKET is not a number, then the start fails naming it', () => {
    expect(() => loadConfig({ TOKEN_BUCKET: 'soon' })).toThrow(/^TOKEN_BUCKET must be a whole number/);
  });
});

describe('WORKERS', () => {
  it('when nothing is set, then one process serves', () => {
    expect(loadConfig({}).workers).toBe(1);
  });

  it('when WORKERS=auto, then there is one worker per core', () => {
    expect(loadConfig({ WORKERS: 'auto' }).workers).toBe(availableParallelism());
  });
});
