import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ApiToken } from './api-tokens/api-tokens.js';
import {
  BadInputError,
  ConfigError,
  ConflictError,
  ForbiddenError,
  GoneError,
  IdempotencyKeyReusedError,
  InvalidRequestError,
  LineupError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from './errors.js';
import type { ApiRunner, OperationAnswer, OperationCall } from './http/api-runner.js';
import type { Logger } from './logger.js';
import type { PartsConfig } from './postgres-admin-parts.js';
import type { Clock } from './time.js';

/** What the admin thread is started with: plain values, since a thread shares no objects. */
export interface ApiThreadData {
  config: PartsConfig;
  sessionIdleSeconds: number;
}

/** A request to the thread; `now` is the node's clock at the request, the thread's clock for that call. */
type Ask = { kind: 'authenticate'; presented: string } | { kind: 'run'; call: OperationCall };
export type ApiThreadRequest = (Ask & { id: number; now: number }) | { kind: 'close' };

/** An error as it crosses from the thread: its class by name, and what that class carries. */
export interface ThreadError {
  name: string;
  message: string;
  fields?: ReadonlyArray<{ path: string; message: string }>;
  /** PostgreSQL's SQLSTATE, kept for the log of a 503. */
  code?: string;
  cause?: string;
}

export type ApiThreadAnswer =
  | { ready: true }
  | { failed: ThreadError }
  | { id: number; value: ApiToken | OperationAnswer | undefined }
  | { id: number; error: ThreadError };

/** The errors an operation throws for its caller to see, rebuilt as the same class so that http/error-handler.ts maps them alike. */
const ERROR_CLASSES: Record<string, new (message: string) => LineupError> = {
  NotFoundError,
  BadInputError,
  ConflictError,
  ForbiddenError,
  GoneError,
  IdempotencyKeyReusedError,
  UnauthorizedError,
  UnavailableError,
  ConfigError,
  LineupError,
};

function rebuilt(error: ThreadError): Error {
  if (error.name === 'InvalidRequestError') return new InvalidRequestError(error.message, error.fields ?? []);
  const Class = ERROR_CLASSES[error.name];
  const rebuiltError = Class ? new Class(error.message) : new Error(error.message);
  return Object.assign(rebuiltError, {
    ...(error.code !== undefined ? { code: error.code } : {}),
    ...(error.cause !== undefined ? { cause: error.cause } : {}),
  });
}

/** The thread's module, next to this one once built (dist/); the TypeScript sources have none. */
const THREAD_MODULE = new URL('./postgres-api-worker.js', import.meta.url);

/**
 * The admin API's operations on a PostgreSQL node, on a thread of their own (postgres-api-worker.ts).
 * The operations, SubscriberAdmin and ApiWrites are synchronous, as on SQLite, and run there over a
 * synchronous connection (db/pg/sync-client.ts) exactly as SQLite's run in the call: one write,
 * its kept answer and its audit actor in one transaction. Only that thread waits on PostgreSQL (a
 * row another session holds, up to the lock timeout); the node's event loop awaits a message and
 * serves playlists meanwhile. Calls are answered in the order sent, one at a time, as SQLite's
 * one connection would. Resolves once the thread's connection is open and the schema checked.
 */
export async function startPostgresApiThread(
  data: ApiThreadData,
  clock: Clock,
  logger: Logger,
): Promise<ApiRunner & { stop(): Promise<void> }> {
  if (!existsSync(fileURLToPath(THREAD_MODULE))) {
    throw new ConfigError('ADMIN_PORT on PostgreSQL runs from the build only (dist/postgres-api-worker.js): run npm run build');
  }
  const worker = new Worker(THREAD_MODULE, { workerData: data });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  let gone: Error | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (answer: ApiThreadAnswer) => {
      if ('ready' in answer) return resolve();
      if ('failed' in answer) return reject(rebuilt(answer.failed));
      const call = pending.get(answer.id);
      pending.delete(answer.id);
      if ('error' in answer) call?.reject(rebuilt(answer.error));
      else call?.resolve(answer.value);
    });
    worker.on('error', (error) => {
      logger.error({ err: error.message }, 'the admin API thread failed');
      reject(error);
    });
    worker.on('exit', (code) => {
      gone = new UnavailableError('the admin API is not available on this node now');
      for (const call of pending.values()) call.reject(gone);
      pending.clear();
      reject(new Error(`the admin API thread exited with code ${code} before it was ready`));
    });
  });
  const ask = <T>(request: Ask): Promise<T> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ ...request, id, now: clock() } as ApiThreadRequest);
    });
  };
  try {
    await ready;
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    authenticate: (presented) => ask<ApiToken | undefined>({ kind: 'authenticate', presented }),
    run: (call) => ask<OperationAnswer>({ kind: 'run', call }),
    // After the admin listener has closed: no call is in flight. The thread closes its connection and ends.
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        if (gone) return resolve();
        worker.once('exit', () => resolve());
        worker.postMessage({ kind: 'close' } satisfies ApiThreadRequest);
      })),
  };
}
