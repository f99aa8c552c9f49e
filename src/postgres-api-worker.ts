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

const unavailable = (cause: unknown, code?: string): ThreadError => ({
  name: 'UnavailableError',
  message: 'Database unavailable, try again shortly',
  ...(code !== undefined ? { code } : {}),
  cause: String((cause as { message?: unknown }).message ?? cause),
});

/** A failure of PostgreSQL's (sync-client.ts's PostgresError) that is not the statement's: the connection, or the server's state. */
function isDatabaseDown(error: unknown): boolean {
  const { name, code } = error as { name?: unknown; code?: unknown };
  return name === 'PostgresError' && (code === undefined || UNAVAILABLE.test(String(code)));
}

function threadError(error: unknown): ThreadError {
  if (error instanceof LineupError) {
    return { name: error.name, message: error.message, ...(error instanceof InvalidRequestError ? { fields: error.fields } : {}) };
  }
  const { code } = error as { code?: unknown };
  if (isDatabaseDown(error)) return unavailable(error, code === undefined ? undefined : String(code));
  return { name: 'Error', message: String((error as { message?: unknown }).message ?? error) };
}

let api: { runner: ApiRunner; close(): void } | undefined;
const open = () => (api ??= openPostgresApi(data.config, clock, data.sessionIdleSeconds));

/** Forgets the connection after it was lost (PostgreSQL restarted, or ended it): the next call opens another. */
function forgetLostConnection(error: unknown): void {
  const { name, code } = error as { name?: unknown; code?: unknown };
  if (name !== 'PostgresError' || (code !== undefined && !CONNECTION_LOST.test(String(code)))) return;
  const lost = api;
  api = undefined;
  try {
    lost?.close();
  } catch {
    // Already gone with the connection.
  }
}

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
  let runner: ApiRunner;
  try {
    ({ runner } = open());
  } catch (error) {
    // PostgreSQL still out of reach: this call is a 503, and the next tries again.
    port.postMessage({ id: request.id, error: unavailable(error) } satisfies ApiThreadAnswer);
    return;
  }
  try {
    const value = request.kind === 'authenticate' ? runner.authenticate(request.presented) : runner.run(request.call);
    port.postMessage({ id: request.id, value } as ApiThreadAnswer);
  } catch (error) {
    forgetLostConnection(error);
    port.postMessage({ id: request.id, error: threadError(error) } satisfies ApiThreadAnswer);
  }
});
