import type pg from 'pg';
import { foreignKeyAdvice, type ScriptResult, SqlScriptError } from '../sql-script.js';
import type { AsyncTransactionHooks } from '../transaction-hooks.js';
import { splitPostgresScript, withoutQuotedText } from './script-statements.js';

/** What the server may add to a message about one of SQLite's functions that PostgreSQL lacks. */
const SQLITE_FUNCTIONS: Record<string, string> = {
  group_concat: "group_concat is SQLite's: on PostgreSQL write string_agg(x::text, ',')",
  ifnull: "ifnull is SQLite's: on PostgreSQL write coalesce(…)",
  iif: "iif is SQLite's: on PostgreSQL write CASE WHEN … THEN … ELSE … END",
  strftime: "strftime is SQLite's: on PostgreSQL write to_char(…)",
};

interface ServerError extends Error {
  code?: string;
  position?: string;
}

/**
 * The server's reason, with nothing of the script's values: a data error (class 22) quotes the
 * value it could not take, which may be a key or a password; names of tables, columns and
 * constraints stay, for they say what to fix.
 */
export function serverReason(error: ServerError, sql: string): string {
  const { code = '', message } = error;
  if (code === '23503') return `${message}: ${foreignKeyAdvice(sql)}`;
  if (code === '42601') return withoutQuotedText(message);
  if (code.startsWith('22')) return message.replace(/:\s*"[\s\S]*$/, '').replace(/"[\s\S]*"/, '"…"');
  if (code === '42883') {
    const name = /^function (\w+)\(/.exec(message)?.[1]?.toLowerCase();
    const hint = name === undefined ? undefined : SQLITE_FUNCTIONS[name];
    if (hint) return `${message}: ${hint}`;
  }
  return message;
}

/** The line of the token the server points at (`position`, 1-based, in characters), or the statement's first. */
function lineOf(error: ServerError, statement: { sql: string; line: number }): number {
  const position = Number(error.position);
  if (!Number.isInteger(position) || position < 1) return statement.line;
  const before = [...statement.sql].slice(0, position - 1).join('');
  return statement.line + (before.match(/\n/g)?.length ?? 0);
}

/**
 * Runs an admin script on PostgreSQL in one transaction, as `applySqlScript` does on SQLite: all
 * of it, or on the first error none of it. The script's own BEGIN/COMMIT are skipped; ROLLBACK is
 * refused. Changes are recorded in the audit trail under the actor `sql`. `hooks` run inside the
 * transaction; a `beforeCommit` that throws undoes the file.
 */
export async function applyPostgresScript(
  client: pg.ClientBase,
  file: string,
  script: string,
  hooks: AsyncTransactionHooks = {},
): Promise<ScriptResult> {
  const statements = await splitPostgresScript(file, script);
  let changes = 0;
  let executed = 0;
  await client.query('BEGIN');
  try {
    await client.query("SELECT set_config('lineup.actor', 'sql', true)");
    await hooks.begin?.();
    for (const statement of statements) {
      if (statement.transaction === 'skip') continue;
      if (statement.transaction === 'refuse') {
        const words = /^\w+(\s+\w+)?/.exec(statement.sql)?.[0]?.toUpperCase() ?? 'it';
        throw new SqlScriptError(file, statement.line, `${words} is not allowed: each file already runs in one transaction`);
      }
      try {
        const result = await client.query(statement.sql);
        if (['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(result.command)) changes += result.rowCount ?? 0;
        executed++;
      } catch (error) {
        throw new SqlScriptError(file, lineOf(error as ServerError, statement), serverReason(error as ServerError, statement.sql));
      }
    }
    await hooks.beforeCommit?.();
    try {
      await client.query('COMMIT');
    } catch (error) {
      // A deferred constraint is checked here, after the last statement: the file is what failed.
      throw new SqlScriptError(file, statements.at(-1)?.line ?? 1, `at COMMIT: ${serverReason(error as ServerError, '')}`);
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
  return { statements: executed, changes };
}
