/** The admin tables store UTC as `YYYY-MM-DD HH:MM:SS`, the form SQLite's datetime('now') uses. */
export type SqlTime = string;

/** Unix seconds → `YYYY-MM-DD HH:MM:SS` (UTC). */
export function toSqlTime(unixSeconds: number): SqlTime {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Expiry times already read: every request checks its subscriber's, and parsing a date costs more
 * than the rest of that check. Cleared when full, so that a prune over many subscribers stays bounded.
 */
const parsedTimes = new Map<SqlTime, number>();
const MOST_PARSED_TIMES = 10_000;

/** `YYYY-MM-DD HH:MM:SS` (UTC) → Unix seconds. */
export function fromSqlTime(value: SqlTime): number {
  let seconds = parsedTimes.get(value);
  if (seconds === undefined) {
    seconds = Date.parse(`${value.replace(' ', 'T')}Z`) / 1000;
    if (parsedTimes.size >= MOST_PARSED_TIMES) parsedTimes.clear();
    parsedTimes.set(value, seconds);
  }
  return seconds;
}

/** Reads the wall clock; injected so that tests can stand on a boundary. */
export type Clock = () => number;

export const systemClock: Clock = () => Math.floor(Date.now() / 1000);
