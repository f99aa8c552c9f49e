import type pg from 'pg';
import type { LintInput } from '../../lint/lint.js';
import type { SqlTime } from '../../time.js';
import { type LintRows, lintQueries, toLintInput } from '../lint-store.js';
import { numbered } from './placeholders.js';

/** `readLintInput` on PostgreSQL: the same queries and the same rows, read through `client`. */
export async function readPostgresLintInput(client: pg.ClientBase, now: SqlTime): Promise<LintInput> {
  const rows: Partial<LintRows> = {};
  for (const [name, [sql, params]] of Object.entries(lintQueries(now, ' COLLATE "C"'))) {
    rows[name as keyof LintRows] = (await client.query(numbered(sql), params)).rows;
  }
  return toLintInput(rows as LintRows);
}
