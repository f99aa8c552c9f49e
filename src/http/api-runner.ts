import type { ApiToken, ApiTokens } from '../api-tokens/api-tokens.js';
import type { Awaitable } from '../awaitable.js';
import type { ApiWrites, WriteAnswer, WriteRequest } from '../db/api-writes.js';
import { type ApiServices, OPERATIONS } from './api-operations.js';

/** An operation's validated input, as plain data (it may cross to another thread). */
interface OperationInput {
  params: unknown;
  query: unknown;
  body: unknown;
  token: ApiToken;
}

/** One call of an operation: a write carries what ApiWrites needs (its actor, Idempotency-Key, request digest). */
export interface OperationCall {
  operationId: string;
  input: OperationInput;
  write?: WriteRequest;
}

export interface OperationAnswer {
  answer: WriteAnswer;
  /** A write's kept answer, sent again for a retry with its Idempotency-Key. */
  replayed: boolean;
}

/**
 * What the admin API's routes (api-routes.ts) hand the work to once a request is parsed and
 * validated: the token check, and the operations. On SQLite they run in the call (apiRunner); on
 * PostgreSQL on the node's admin thread (postgres-api-thread.ts), which runs this same apiRunner
 * over its own connection, so that no query of theirs holds the event loop.
 */
export interface ApiRunner {
  authenticate(presented: string): Awaitable<ApiToken | undefined>;
  run(call: OperationCall): Awaitable<OperationAnswer>;
}

const BY_ID = new Map(OPERATIONS.map((operation) => [operation.operationId, operation]));

/** The operations over `services`, in the calling thread; each write in one ApiWrites transaction. */
export function apiRunner(services: ApiServices, tokens: ApiTokens, writes: ApiWrites): ApiRunner {
  return {
    authenticate: (presented) => tokens.authenticate(presented),
    run: ({ operationId, input, write }) => {
      const operation = BY_ID.get(operationId);
      if (!operation) throw new Error(`no operation ${operationId}`);
      const execute = (): WriteAnswer => {
        const result = operation.handle(services, input);
        return { status: operation.success.status, body: result === undefined ? undefined : JSON.stringify(result) };
      };
      if (!write) return { answer: execute(), replayed: false };
      return writes.run(write, execute);
    },
  };
}
