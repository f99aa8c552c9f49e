// The admin API thread of a PostgreSQL node (see postgres-api-thread.ts): the operations over one
// synchronous connection, a request at a time, answered by message.
import { parentPort, workerData } from 'node:worker_threads';
import { InvalidRequestError, LineupError } from './errors.js';
import type { ApiRunner } from './http/api-runner.js';
import { openPostgresApi } from './postgres-admin-parts.js';
import type { ApiThreadAnswer, ApiThreadData, ApiThreadRequest, ThreadError } from './postgres-api-thread.js';

const data = workerData as ApiThreadData;
const port = parentPort!;
/** The node's clock at the request being answered: each call runs at the time the node read. */
let now = 0;
const clock = () => now;

/** SQLSTATE classes that are the database's state rather than a fault of the statement: connection, resources, operator, lock wait. */
const UNAVAILABLE = /^(08|53|57|40|55P03)/;
/** Connection failures: the next call opens a new connection. */
const CONNECTION_LOST = /^(08|57)/;

function threadError(error: unknown): ThreadError {
  const { message, code } = error as { message?: unknown; code?: unknown };
  if (error instanceof LineupError) {
    return { name: error.name, message: error.message, ...(error instanceof InvalidRequestError ? { fields: error.fields } : {}) };
  }
  if (typeof code === 'string' && UNAVAILABLE.test(code)) {
    return { name: 'UnavailableError', message: 'Database unavailable, try again shortly', code, cause: String(message) };
  }
  return { name: 'Error', message: String(message) };
}

let api: { runner: ApiRunner; close(): void } | undefined;
const open = () => (api ??= openPostgresApi(data.config, clock, data.sessionIdleSeconds));

try {
  open();
  port.postMessage({ ready: true } satisfies ApiThreadAnswer);
} catch (error) {
  port.postMessage({ failed: threadError(error) } satisfies ApiThreadAnswer);
  port.close();
}

port.on('message', (request: ApiThreadRequest) => {
  if (request.kind === 'close') {
    try {
      api?.close();
    } finally {
      port.close();
    }
    return;
  }
  now = request.now;
  try {
    const { runner } = open();
    const value = request.kind === 'authenticate' ? runner.authenticate(request.presented) : runner.run(request.call);
    port.postMessage({ id: request.id, value } as ApiThreadAnswer);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // The connection is gone (PostgreSQL restarted, or closed it): the next call opens another.
    if (error instanceof Error && !(error instanceof LineupError) && (code === undefined || CONNECTION_LOST.test(String(code)))) {
      const lost = api;
      api = undefined;
      try {
        lost?.close();
      } catch {
        // Already closed by the server.
      }
    }
    port.postMessage({ id: request.id, error: threadError(error) } satisfies ApiThreadAnswer);
  }
});
