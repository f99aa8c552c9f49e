/**
 * LINEUP_DB's PostgreSQL form, told apart from a file path without loading the driver, so that
 * an SQLite operator's processes never load `pg`.
 */

/** LINEUP_DB names a PostgreSQL database (postgres:// or postgresql://) rather than an SQLite file. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value.trim());
}

/**
 * The URL as messages may show it: the password, if any, replaced, so that an error line or a
 * log names the server and database without the secret.
 */
export function loggablePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  } catch {
    return 'the PostgreSQL URL in LINEUP_DB';
  }
}
