/**
 * What the triggers send on the channel `lineup_changes` (baseline.ts), at commit and in commit
 * order:
 * - `L <version>`: the lineup's own tables changed; version is lineup_changes.version.
 * - `S <seq> <id,id,…>`: those subscribers' access changed; seq is the last subscriber_changes.seq
 *   the statement logged.
 * - `S <seq> *`: more than 100 of them, or a TRUNCATE: anyone may have changed.
 */
export type ChangePayload =
  | { kind: 'lineup'; version: string }
  | { kind: 'subscribers'; seq: number; ids: readonly number[] | 'everyone' }
  /** Anything else: nothing can be said about what changed. */
  | { kind: 'unknown' };

const DIGITS = /^\d+$/;

export function parseChangePayload(payload: string): ChangePayload {
  const parts = payload.split(' ');
  if (parts[0] === 'L' && parts.length === 2 && DIGITS.test(parts[1]!)) return { kind: 'lineup', version: parts[1]! };
  if (parts[0] === 'S' && parts.length === 3 && DIGITS.test(parts[1]!)) {
    const seq = Number(parts[1]);
    if (parts[2] === '*') return { kind: 'subscribers', seq, ids: 'everyone' };
    const ids = parts[2]!.split(',');
    if (ids.every((id) => DIGITS.test(id))) return { kind: 'subscribers', seq, ids: ids.map(Number) };
  }
  return { kind: 'unknown' };
}
