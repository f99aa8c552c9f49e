import type pg from 'pg';

const DEFAULT_TIMEOUT_MS = 1000;

/**
 * `/healthz`'s question to PostgreSQL: undefined when `SELECT 1` answered within `timeoutMs`
 * (waiting for a free pooled connection included), else a short reason: no URL, no password.
 */
export async function pingPostgres(pool: pg.Pool, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  const answer = pool.query('SELECT 1').then(
    () => undefined,
    (error: Error) => `the database cannot be reached: ${error.message}`,
  );
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
