import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSyncFn } from 'synckit';
import { ConfigError } from '../../errors.js';
import { loggablePostgresUrl } from './url.js';

/**
 * One PostgreSQL connection used synchronously, for the admin commands (`lineup subscriber`,
 * `lineup prune`). Why synchronous: the subscriber rules (subscribers/subscriber-admin.ts,
 * subscribers/prune.ts) are synchronous code over SubscriberStorage, whose `transaction(work)`
 * runs a read and the write that depends on it as one unit; on SQLite that is one BEGIN IMMEDIATE
 * around plain calls. Keeping the rules as they are, on both backends, needs a connection that
 * answers in the same call. A one-shot command has nothing else to serve meanwhile, so blocking
 * its thread costs nothing. The connection lives on a worker thread (sync-client-worker.ts, with
 * the `pg` driver); each query is posted to it and the main thread waits (synckit: Atomics.wait,
 * then receiveMessageOnPort) until it answers.
 *
 * The server's request path never uses this: a blocked event loop would stall every request.
 * It reads PostgreSQL asynchronously through its own pool.
 */

/** The worker's module, next to this one once built (dist/); the TypeScript sources have none. */
const WORKER_MODULE = new URL('./sync-client-worker.js', import.meta.url);

/** What PostgreSQL said about a failed query, as it crosses from the worker. */
export interface WireError {
  message: string;
  /** SQLSTATE: 23505 unique violation, 23503 foreign key, 40001 serialization, … */
  code?: string;
  detail?: string;
  constraint?: string;
  table?: string;
  column?: string;
  position?: string;
}

export type BridgeRequest =
  | { kind: 'connect'; url: string }
  | { kind: 'query'; id: number; text: string; values: unknown[] }
  | { kind: 'end'; id: number };

export type BridgeAnswer =
  | { error: WireError }
  | { id: number }
  | { rows: Record<string, unknown>[]; rowCount: number }
  | Record<string, never>;

/**
 * A query PostgreSQL refused (or a connection that failed), with its SQLSTATE in `code`, as pg's
 * own errors carry it, so that a store maps it the same way whichever way it reached the server.
 */
export class PostgresError extends Error {
  override name = 'PostgresError';
  readonly code: string | undefined;
  readonly detail: string | undefined;
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly position: string | undefined;

  constructor(wire: WireError) {
    super(wire.message);
    this.code = wire.code;
    this.detail = wire.detail;
    this.constraint = wire.constraint;
    this.table = wire.table;
    this.column = wire.column;
    this.position = wire.position;
  }
}

export interface QueryResult<T> {
  rows: T[];
  /** Rows the statement inserted, updated, deleted or returned. */
  rowCount: number;
}

type Call = (request: BridgeRequest) => BridgeAnswer;

function bridge(): Call {
  if (!existsSync(fileURLToPath(WORKER_MODULE))) {
    throw new Error('the PostgreSQL admin connection runs from the build only (dist/db/pg/sync-client-worker.js): run npm run build');
  }
  return createSyncFn<(request: BridgeRequest) => Promise<BridgeAnswer>>(fileURLToPath(WORKER_MODULE));
}

/** The worker's answer, or the error it carried, thrown. */
function answered<T>(answer: BridgeAnswer): T {
  if ('error' in answer) throw new PostgresError(answer.error as WireError);
  return answer as T;
}

export class SyncPostgresClient {
  /** Transactions open around the current call: 0 outside, 1 in a BEGIN, more in its savepoints. */
  private depth = 0;
  private closed = false;
  /** What runs once the outermost transaction commits (see afterCommit). */
  private committed: (() => void)[] = [];

  private constructor(
    private readonly call: Call,
    private readonly id: number,
  ) {}

  /** One connection to the database `url` names. @throws ConfigError naming the server, never the password. */
  static connect(url: string): SyncPostgresClient {
    const call = bridge();
    try {
      const { id } = answered<{ id: number }>(call({ kind: 'connect', url }));
      return new SyncPostgresClient(call, id);
    } catch (error) {
      throw new ConfigError(`cannot reach ${loggablePostgresUrl(url)}: ${(error as Error).message}`);
    }
  }

  /** `text` with `$1, $2, …` bound to `values`. @throws PostgresError with PostgreSQL's code. */
  query<T = Record<string, unknown>>(text: string, values: readonly unknown[] = []): QueryResult<T> {
    if (this.closed) throw new Error('the PostgreSQL connection is closed');
    return answered<QueryResult<T>>(this.call({ kind: 'query', id: this.id, text, values: [...values] }));
  }

  /**
   * Runs `work` in one transaction: BEGIN … COMMIT, or ROLLBACK when it throws (the error is
   * rethrown). Within another, a savepoint, so that a nested failure undoes only its own part, as
   * better-sqlite3's nested transactions do.
   */
  transaction<T>(work: () => T): T {
    const savepoint = this.depth === 0 ? undefined : `lineup_${this.depth}`;
    this.query(savepoint ? `SAVEPOINT ${savepoint}` : 'BEGIN');
    this.depth++;
    let result: T;
    try {
      result = work();
      if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        throw new TypeError('a transaction runs synchronous work only');
      }
    } catch (error) {
      this.depth--;
      if (this.depth === 0) this.committed = [];
      try {
        this.query(savepoint ? `ROLLBACK TO SAVEPOINT ${savepoint}` : 'ROLLBACK');
        if (savepoint) this.query(`RELEASE SAVEPOINT ${savepoint}`);
      } catch {
        // A lost connection cannot roll back: the server does. The work's error is the one to tell.
      }
      throw error;
    }
    this.depth--;
    // Taken before the COMMIT, which may fail too: then they never run.
    const committed = this.depth === 0 ? this.committed.splice(0) : [];
    this.query(savepoint ? `RELEASE SAVEPOINT ${savepoint}` : 'COMMIT');
    for (const then of committed) then();
    return result;
  }

  /**
   * Runs `then` once the outermost transaction around this call commits (at once outside one), and
   * never if it rolls back: what other sessions may only be told of once they can see it.
   */
  afterCommit(then: () => void): void {
    if (this.depth === 0) then();
    else this.committed.push(then);
  }

  /** Ends the connection; later queries throw. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    answered<unknown>(this.call({ kind: 'end', id: this.id }));
  }
}
