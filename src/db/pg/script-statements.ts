import { hasSqlDetails, loadModule, parseSync } from 'libpg-query';
import { codeStart, SqlScriptError } from '../sql-script.js';

/** One statement of an admin script, as PostgreSQL's own parser cut it. */
export interface PostgresStatement {
  sql: string;
  /** 1-based line on which the statement starts. */
  line: number;
  /** BEGIN and COMMIT are skipped (the file already is one transaction); ROLLBACK is refused. */
  transaction?: 'skip' | 'refuse';
}

let parserLoaded: Promise<void> | undefined;

const linesIn = (bytes: Uint8Array): number => bytes.reduce((lines, byte) => (byte === 0x0a ? lines + 1 : lines), 0);

/**
 * SQLite's syntax that PostgreSQL does not parse, recognised by the word the parser stopped at and
 * its neighbours, with what to write instead. Shims cannot help here: these are syntax errors.
 */
function sqliteIdiom(before: string, word: string, after: string): string | undefined {
  if (word === 'OR' && before === 'INSERT') {
    if (after === 'IGNORE') return 'INSERT OR IGNORE is SQLite syntax: on PostgreSQL write INSERT … ON CONFLICT DO NOTHING';
    if (after === 'REPLACE') return 'INSERT OR REPLACE is SQLite syntax: on PostgreSQL write INSERT … ON CONFLICT (…) DO UPDATE SET …';
    return `INSERT OR ${after} is SQLite syntax: on PostgreSQL write a plain INSERT, with ON CONFLICT … where needed`;
  }
  if (word === 'REPLACE' && after === 'INTO')
    return 'REPLACE INTO is SQLite syntax: on PostgreSQL write INSERT … ON CONFLICT (…) DO UPDATE SET …';
  if (word === 'GLOB') return "GLOB is SQLite syntax: on PostgreSQL write ~ (a regular expression, e.g. stream ~ '^live/') or LIKE";
  if (word === 'PRAGMA') return 'PRAGMA is SQLite syntax and has no PostgreSQL form: remove it';
  if (before === 'BEGIN' && ['IMMEDIATE', 'EXCLUSIVE', 'DEFERRED'].includes(word)) {
    return `BEGIN ${word} is SQLite syntax and not needed on PostgreSQL: each file already runs in one transaction; remove it`;
  }
  return undefined;
}

/**
 * The parser's message without any text of the script: the token it quotes may be the tail of a
 * string (a password or a stream key left unterminated), and terminals and CI logs keep what is
 * printed. The file and line say where to look.
 */
export function withoutQuotedText(message: string): string {
  if (/^unterminated quoted string/.test(message)) return "unterminated string: a closing ' is missing";
  if (/^unterminated dollar-quoted string/.test(message)) return 'unterminated dollar-quoted string: its closing $…$ is missing';
  if (/^unterminated quoted identifier/.test(message)) return 'unterminated quoted name: a closing " is missing';
  if (/^unterminated \/\* comment/.test(message)) return 'unterminated /* comment: a closing */ is missing';
  if (/^syntax error at or near /.test(message)) return 'syntax error (the token is not repeated here: it may be part of a string)';
  if (/^syntax error at end of input/.test(message)) return 'syntax error at the end of the statement';
  return message.replace(/"[\s\S]*"/, '"…"');
}

/** The line of the character at `offset` (the parser counts code points there, not bytes), and the reason a parse error there gets. */
function parseFailure(file: string, script: string, offset: number, message: string): SqlScriptError {
  const characters = [...script];
  const at = Math.max(0, Math.min(offset, characters.length));
  const line = 1 + (characters.slice(0, at).join('').match(/\n/g)?.length ?? 0);
  const words = (text: string) => text.toUpperCase().match(/[A-Z_]+/g) ?? [];
  const before = words(characters.slice(Math.max(0, at - 64), at).join('')).at(-1) ?? '';
  const [word = '', after = ''] = words(characters.slice(at, at + 64).join(''));
  return new SqlScriptError(file, line, sqliteIdiom(before, word, after) ?? withoutQuotedText(message));
}

/**
 * Cuts a script into statements with PostgreSQL's own parser (libpg_query, compiled to
 * WebAssembly), so that dollar quotes (`$$…$$`, `$tag$…$tag$`), `E'…'` escapes, quoted names and
 * nested comments are read exactly as the server reads them. A file that does not parse is refused
 * whole, before anything runs, with the line of the token at fault.
 */
export async function splitPostgresScript(file: string, script: string): Promise<PostgresStatement[]> {
  parserLoaded ??= loadModule();
  await parserLoaded;
  const text = script.replace(/^\uFEFF/, '');
  const bytes = Buffer.from(text, 'utf8');
  let parsed: ReturnType<typeof parseSync>;
  try {
    parsed = parseSync(text);
  } catch (error) {
    if (hasSqlDetails(error) && error.sqlDetails) throw parseFailure(file, text, error.sqlDetails.cursorPosition, error.sqlDetails.message);
    throw new SqlScriptError(file, 1, withoutQuotedText((error as Error).message));
  }
  return (parsed.stmts ?? []).map((parsedStatement) => {
    // These offsets are in bytes of the UTF-8 text (an error's is in characters); a zero or missing one is left out of the parse tree.
    const start = parsedStatement.stmt_location ?? 0;
    const end = parsedStatement.stmt_len ? start + parsedStatement.stmt_len : bytes.length;
    const statementText = bytes.subarray(start, end).toString();
    const lead = codeStart(statementText);
    const statement: PostgresStatement = {
      sql: statementText.slice(lead).trim(),
      line: 1 + linesIn(bytes.subarray(0, start)) + (statementText.slice(0, lead).match(/\n/g)?.length ?? 0),
    };
    const tree = parsedStatement.stmt;
    const kind = tree && 'TransactionStmt' in tree ? tree.TransactionStmt?.kind : undefined;
    if (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START' || kind === 'TRANS_STMT_COMMIT') statement.transaction = 'skip';
    else if (kind !== undefined && !['TRANS_STMT_SAVEPOINT', 'TRANS_STMT_RELEASE'].includes(kind)) statement.transaction = 'refuse';
    return statement;
  });
}
