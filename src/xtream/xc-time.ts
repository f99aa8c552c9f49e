/**
 * Times as Xtream Codes clients read them. Lineup announces `timezone: "UTC"`, so every wall-clock
 * time here is UTC.
 */

/** Unix seconds → `YYYY-MM-DD HH:MM:SS` (UTC). */
export function xcDateTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** A `/timeshift/…` start, `YYYY-MM-DD:HH-MM` (UTC), → Unix seconds; undefined unless it is a real time. */
export function parseTimeshiftStart(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2}):(\d{2})-(\d{2})$/.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute] = match.slice(1).map(Number) as [number, number, number, number, number];
  const time = Date.UTC(year, month - 1, day, hour, minute);
  const real = new Date(time);
  if (real.getUTCMonth() !== month - 1 || real.getUTCDate() !== day || hour > 23 || minute > 59) return undefined;
  return time / 1000;
}
