import { IdempotencyKeyReusedError } from '../errors.js';
import { type Clock, toSqlTime } from '../time.js';
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

interface StoredRecord {
  request_hash: string;
  status: number;
  body: string | null;
}

/**
 * Every write of the admin API: one transaction that runs the change, recorded in the audit trail
 * under the token's name, and keeps its answer under the request's Idempotency-Key. A retry with
 * the same key and request gets the first answer and changes nothing; with another request, 422.
 * The lookup and the write share the transaction (BEGIN IMMEDIATE), so two copies of one request
 * arriving at once, on two workers even, still apply once.
 */
export class ApiWrites {
  private readonly find;
  private readonly insert;
  private readonly sweep;
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.find = db.prepare('SELECT request_hash, status, body FROM idempotency_keys WHERE token_id = ? AND key = ?');
    this.insert = db.prepare(
      'INSERT INTO idempotency_keys (token_id, key, request_hash, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.sweep = db.prepare('DELETE FROM idempotency_keys WHERE created_at < ?');
  }

  /** @throws IdempotencyKeyReusedError; whatever `write` throws, with nothing applied. */
  run(request: WriteRequest, write: () => WriteAnswer): { answer: WriteAnswer; replayed: boolean } {
    return withAuditActor(this.db, request.actor, () =>
      this.db
        .transaction(() => {
          const now = this.clock();
          const key = request.idempotencyKey;
          if (key !== undefined) {
            const stored = this.find.get(request.tokenId, key) as StoredRecord | undefined;
            if (stored) {
              if (stored.request_hash !== request.requestHash) {
                throw new IdempotencyKeyReusedError('this Idempotency-Key was used for another request; use a new key for a new request');
              }
              return { answer: { status: stored.status, body: stored.body ?? undefined }, replayed: true };
            }
          }
          const answer = write();
          if (key !== undefined) {
            this.insert.run(request.tokenId, key, request.requestHash, answer.status, answer.body ?? null, toSqlTime(now));
            if (now - this.lastSweep >= SWEEP_EVERY_SECONDS) {
              this.lastSweep = now;
              this.sweep.run(toSqlTime(now - KEEP_SECONDS));
            }
          }
          return { answer, replayed: false };
        })
        .immediate(),
    );
  }
}
