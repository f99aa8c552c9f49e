import { IDEMPOTENCY_SQL, type IdempotencyRecords, type StoredAnswer } from '../api-writes.js';
import { numbered } from './placeholders.js';
import type { SyncPostgresClient } from './sync-client.js';

/**
 * The first key of the advisory lock that one Idempotency-Key's writes take (the two-int form, as
 * the sessions' admission lock, with a class of its own); the second is a hash of the token and key.
 */
const IDEMPOTENCY_LOCK_CLASS = 1_768_189_296;

const FIND = numbered(IDEMPOTENCY_SQL.find);
const INSERT = numbered(IDEMPOTENCY_SQL.insert);
const SWEEP = numbered(IDEMPOTENCY_SQL.sweep);

/**
 * The admin API's kept answers on PostgreSQL. Each write is one transaction whose changes the
 * audit triggers name by the transaction's own `lineup.actor`; under READ COMMITTED, two copies of
 * one request on two nodes would both find no answer and both apply, so the transaction first
 * takes an advisory lock on (token, key): the second waits for the first's commit, then finds its answer.
 */
export function postgresIdempotencyRecords(db: SyncPostgresClient): IdempotencyRecords {
  return {
    transaction: (actor, key, work) =>
      db.transaction(() => {
        db.query("SELECT set_config('lineup.actor', $1, true)", [actor]);
        if (key !== undefined) {
          db.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [IDEMPOTENCY_LOCK_CLASS, `${key.tokenId}:${key.key}`]);
        }
        return work();
      }),
    find: (tokenId, key) => db.query<StoredAnswer>(FIND, [tokenId, key]).rows[0],
    insert: (tokenId, key, requestHash, answer, at) => {
      db.query(INSERT, [tokenId, key, requestHash, answer.status, answer.body ?? null, at]);
    },
    sweep: (before) => {
      db.query(SWEEP, [before]);
    },
  };
}
