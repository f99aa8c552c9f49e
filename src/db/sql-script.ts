import { LineupError } from '../errors.js';
import type { Db } from './open.js';
import type { TransactionHooks } from './transaction-hooks.js';

interface ScriptStatement {
  sql: string;
  /** 1-based line on which the statement starts. */
  line: number;
}

/** An admin script that failed; nothing of its file was applied. */
export class SqlScriptError extends LineupError {
  override name = 'SqlScriptError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

const TRANSACTION_CONTROL = /^(BEGIN|COMMIT|END)(\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(\s+TRANSACTION)?$/i;
const TRIGGER_START = /^CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i;
const ENDS_WITH_END = /\bEND\s*$/i;

/** The statement text without comments, to recognise its kind. */
function withoutComments(sql: string): string {
  return sql.replace(/--[^\n]*|\/\*[\s\S]*?(\*\/|$)/g, ' ').trim();
}

/** Offset of the first character that is neither white space nor part of a comment. */
export function codeStart(raw: string): number {
  let i = 0;
  for (;;) {
    while (i < raw.length && /\s/.test(raw[i]!)) i++;
    if (raw.startsWith('--', i)) {
      const end = raw.indexOf('\n', i);
      i = end === -1 ? raw.length : end;
    } else if (raw.startsWith('/*', i)) {
      const end = raw.indexOf('*/', i + 2);
      i = end === -1 ? raw.length : end + 2;
    } else return i;
  }
}

/**
 * Splits a script into statements at `;` outside strings, quoted names and comments, keeping
 * `CREATE TRIGGER … BEGIN …; …; END;` whole, and records the line each statement starts on.
 */
function splitStatements(script: string): ScriptStatement[] {
  const statements: ScriptStatement[] = [];
  let start = 0;
  let startLine = 1;
  let line = 1;
  let i = 0;
  const closers: Record<string, string> = { "'": "'", '"': '"', '`': '`', '[': ']' };

  const flush = (end: number) => {
    const raw = script.slice(start, end);
    const text = withoutComments(raw);
    if (text !== '') {
      const lead = codeStart(raw);
      statements.push({ sql: raw.slice(lead).trim(), line: startLine + raw.slice(0, lead).split('\n').length - 1 });
    }
  };

  while (i < script.length) {
    const ch = script[i]!;
    if (ch === '\n') line++;
    if (ch === '-' && script[i + 1] === '-') {
      const end = script.indexOf('\n', i);
      i = end === -1 ? script.length : end;
      continue;
    }
    if (ch === '/' && script[i + 1] === '*') {
      const end = script.indexOf('*/', i + 2);
      const stop = end === -1 ? script.length : end + 2;
      line += script.slice(i, stop).split('\n').length - 1;
      i = stop;
      continue;
    }
    const closer = closers[ch];
    if (closer) {
      let j = i + 1;
      while (j < script.length) {
        if (script[j] === closer) {
          if (closer !== ']' && script[j + 1] === closer)
            j += 2; // doubled quote escapes itself
          else break;
        } else j++;
      }
      line += script.slice(i + 1, j).split('\n').length - 1;
      i = j + 1;
      continue;
    }
    if (ch === ';') {
      const text = withoutComments(script.slice(start, i));
      if (!TRIGGER_START.test(text) || ENDS_WITH_END.test(text)) {
        flush(i);
        start = i + 1;
        startLine = line;
      }
    }
    i++;
  }
  flush(script.length);
  return statements;
}

/**
 * SQLite's "FOREIGN KEY constraint failed" names neither the table nor the way out. The schema has
 * two refusals an operator meets (a package that holds channels, an origin that channels play
 * from); anything else is a row that names one that does not exist.
 */
export function foreignKeyAdvice(sql: string): string {
  const statement = withoutComments(sql);
  const deleted = /^DELETE\s+FROM\s+["`[]?(\w+)/i.exec(statement)?.[1]?.toLowerCase();
  if (deleted === 'packages') {
    return 'a package that still holds channels cannot be deleted; delete its package_channels rows first';
  }
  if (deleted === 'origins') {
    return 'an origin that channels still play from cannot be deleted; move those channels to another origin (or NULL, the default) or delete them first';
  }
  return 'a row names a package, channel, subscriber or origin that does not exist (or one still in use); check the ids and names it uses';
}

/**
 * SQLite's message without any text of the script. SQLite quotes the token it stopped at, and in a
 * broken script that token is often the tail of a string: a password or stream key left
 * unterminated (`unrecognized token: "'SECRET…"`), or the part after a stray quote (`near "RET"`).
 * An operator's terminal history and CI logs keep what is printed, so nothing quoted is repeated:
 * the file and line say where to look. SQLite does not escape a quote inside the token it quotes,
 * so everything from the first `"` to the last one goes.
 */
function withoutScriptText(message: string): string {
  const token = /^unrecognized token: "([\s\S]?)/.exec(message);
  if (token) {
    if (token[1] === "'") return "unterminated string: a closing ' is missing";
    if (token[1] === '"' || token[1] === '`' || token[1] === '[') return 'unterminated quoted name: a closing quote is missing';
    return 'unrecognized token';
  }
  if (/^near "[\s\S]*": syntax error$/.test(message)) return 'syntax error (the token is not repeated here: it may be part of a string)';
  return message.replace(/"[\s\S]*"/, '"…"');
}

export interface ScriptResult {
  statements: number;
  /** Rows inserted, updated or deleted. */
  changes: number;
}

/**
 * Runs a script in one transaction: all of it, or on the first error none of it. The script's own
 * BEGIN/COMMIT are skipped (the file is already one transaction); a ROLLBACK is refused. `hooks`
 * run inside the transaction, around the statements; a `beforeCommit` that throws undoes the file.
 */
export function applySqlScript(db: Db, file: string, script: string, hooks: TransactionHooks = {}): ScriptResult {
  const statements = splitStatements(script.replace(/^\uFEFF/, ''));
  let changes = 0;
  let executed = 0;
  db.exec('BEGIN IMMEDIATE');
  try {
    hooks.begin?.();
    for (const statement of statements) {
      const kind = withoutComments(statement.sql).replace(/;$/, '').trim();
      if (TRANSACTION_CONTROL.test(kind)) continue;
      if (/^ROLLBACK\b/i.test(kind)) {
        throw new SqlScriptError(file, statement.line, 'ROLLBACK is not allowed: each file already runs in one transaction');
      }
      try {
        const prepared = db.prepare(statement.sql);
        if (prepared.reader) prepared.all();
        else changes += prepared.run().changes;
        executed++;
      } catch (error) {
        if (error instanceof SqlScriptError) throw error;
        // A RESTRICT action fails as SQLITE_CONSTRAINT_TRIGGER, a missing parent as _FOREIGNKEY: the message is what they share.
        const { message } = error as Error;
        const reason = /^FOREIGN KEY constraint failed$/.test(message)
          ? `${message}: ${foreignKeyAdvice(statement.sql)}`
          : withoutScriptText(message);
        throw new SqlScriptError(file, statement.line, reason);
      }
    }
    hooks.beforeCommit?.();
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
  return { statements: executed, changes };
}
