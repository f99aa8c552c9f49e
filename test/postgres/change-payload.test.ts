import { describe, expect, it } from 'vitest';
import { parseChangePayload } from '../../src/db/pg/change-payload.js';

describe('the change feed payloads', () => {
  it('when the lineup changed, then the version is kept as sent', () => {
    expect(parseChangePayload('L 9007199254740993')).toEqual({ kind: 'lineup', version: '9007199254740993' });
  });

  it('when subscribers changed, then their ids and the last seq are read, and * means everyone', () => {
    expect(parseChangePayload('S 42 7,8,12')).toEqual({ kind: 'subscribers', seq: 42, ids: [7, 8, 12] });
    expect(parseChangePayload('S 43 *')).toEqual({ kind: 'subscribers', seq: 43, ids: 'everyone' });
  });

  it('when a payload is anything else, then it is unknown rather than half read', () => {
    for (const payload of ['', 'L', 'L x', 'S 1', 'S 1 7,,8', 'S x 7', 'S 1 7 8', 'X 1', 'L 1 2']) {
      expect(parseChangePayload(payload), payload).toEqual({ kind: 'unknown' });
    }
  });
});
