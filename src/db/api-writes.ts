import { IdempotencyKeyReusedError } from '../errors.js';
import { type Clock, type SqlTime, toSqlTime } from '../time.js';
import { withAuditActor } from './audit-triggers.js';
import type { Db } from './open.js';

/** A write's answer, as it is sent and as a retry with the same Idempotency-Key gets it again. */
export interface WriteAnswer {
  status: number;
  /** JSON text, or undefined for an answer without a body (204). */
  body: string | undefined;
}

export interface WriteRequest {
  /** Whom the audit trail names: `api:TOKEN_NAME`. */
  actor: string;
  tokenId: number;
  idempotencyKey: string | undefined;
  /** A digest of the method, path and body: the same key with another request is refused. */
  requestHash: string;
}

/** Answers are kept at least this long (the API promises 24 hours). */
const KEEP_SECONDS = 2 * 86_400;
/** Old answers are swept at most this often, by the write that comes along. */
const SWEEP_EVERY_SECONDS = 600;

/** A kept answer, as the idempotency_keys table holds it. */
export interface StoredAnswer {
  request_hash: string;
  status: number;
  body: string | null;
}

/** The idempotency_keys statements, with `?` placeholders: the same on both backends. */
export const IDEMPOTENCY_SQL = {
  find: 'SELECT request_hash, status, body FROM idempotency_keys WHERE token_id = ? AND key = ?',
  insert: 'INSERT INTO idempotency_keys (token_id, key, request_hash, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  sweep: 'DELETE FROM idempotency_keys WHERE created_at < ?',
};

/** What ApiWrites needs from a backend: its write transaction, and the kept answers within it. */
export interface IdempotencyRecords {
  /**
   * Runs `work` in one write transaction whose changes the audit trail names `actor`. Two
   * transactions for the same `key` of the same token take turns, so the second sees the first's answer.
   */
  transaction<T>(actor: string, key: { tokenId: number; key: string } | undefined, work: () => T): T;
  find(tokenId: number, key: string): StoredAnswer | undefined;
  insert(tokenId: number, key: string, requestHash: string, answer: WriteAnswer, at: SqlTime): void;
  sweep(before: SqlTime): void;
}

/** The kept answers in SQLite: BEGIN IMMEDIATE, one writer at a time, serialises every write, workers' too. */
export function sqliteIdempotencyRecords(db: Db): IdempotencyRecords {
  const find = db.prepare(IDEMPOTENCY_SQL.find);
  const insert = db.prepare(IDEMPOTENCY_SQL.insert);
  const sweep = db.prepare(IDEMPOTENCY_SQL.sweep);
  return {
    transaction: (actor, _key, work) => withAuditActor(db, actor, () => db.transaction(work).immediate()),
    find: (tokenId, key) => find.get(tokenId, key) as StoredAnswer | undefined,
    insert: (tokenId, key, requestHash, answer, at) => {
      insert.run(tokenId, key, requestHash, answer.status, answer.body ?? null, at);
    },
    sweep: (before) => {
      sweep.run(before);
    },
  };
}

/**
 * Every write of the admin API: one transaction that runs the change, recorded in the audit trail
 * under the token's name, and keeps its answer under the request's Idempotency-Key. A retry with
 * the same key and request gets the first answer and changes nothing; with another request, 422.
 * The lookup and the write share the transaction, so two copies of one request arriving at once,
 * on two workers or two nodes, still apply once.
 */
export class ApiWrites {
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly records: IdempotencyRecords,
    private readonly clock: Clock,
  ) {}

  /** @throws IdempotencyKeyReusedError; whatever `write` throws, with nothing applied. */
  run(request: WriteRequest, write: () => WriteAnswer): { answer: WriteAnswer; replayed: boolean } {
    const key = request.idempotencyKey;
    return this.records.transaction(request.actor, key === undefined ? undefined : { tokenId: request.tokenId, key }, () => {
      const now = this.clock();
      if (key !== undefined) {
        const stored = this.records.find(request.tokenId, key);
        if (stored) {
          if (stored.request_hash !== request.requestHash) {
            throw new IdempotencyKeyReusedError('this Idempotency-Key was used for another request; use a new key for a new request');
          }
          return { answer: { status: stored.status, body: stored.body ?? undefined }, replayed: true };
        }
      }
      const answer = write();
      if (key !== undefined) {
        this.records.insert(request.tokenId, key, request.requestHash, answer, toSqlTime(now));
        if (now - this.lastSweep >= SWEEP_EVERY_SECONDS) {
          this.lastSweep = now;
          this.records.sweep(toSqlTime(now - KEEP_SECONDS));
        }
      }
      return { answer, replayed: false };
    });
  }
}
