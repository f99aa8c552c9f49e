import pg from 'pg';

/** LINEUP_DB names a PostgreSQL database rather than an SQLite file. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/**
 * The URL as messages may show it: the password, if any, replaced, so that an error line or a
 * log names the server and database without the secret.
 */
export function loggablePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the PostgreSQL URL in LINEUP_DB';
  }
}

/** A pool of connections to the database `url` names (libpq's URL form, as `psql` takes it). */
export function openPostgresPool(url: string, { max = 4 }: { max?: number } = {}): pg.Pool {
  return new pg.Pool({ connectionString: url, max });
}
