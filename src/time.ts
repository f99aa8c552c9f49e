/** The admin tables store UTC as `YYYY-MM-DD HH:MM:SS`, the form SQLite's datetime('now') uses. */
export type SqlTime = string;

/** Unix seconds → `YYYY-MM-DD HH:MM:SS` (UTC). */
export function toSqlTime(unixSeconds: number): SqlTime {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** `YYYY-MM-DD HH:MM:SS` (UTC) → Unix seconds. */
export function fromSqlTime(value: SqlTime): number {
  return Date.parse(`${value.replace(' ', 'T')}Z`) / 1000;
}

/** Reads the wall clock; injected so that tests can stand on a boundary. */
export type Clock = () => number;

export const systemClock: Clock = () => Math.floor(Date.now() / 1000);
