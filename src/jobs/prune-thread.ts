import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.js';
import type { PruneSummary } from '../subscribers/prune.js';

/**
 * The thread's one message: undefined when another node on the PostgreSQL database held the prune
 * lock. A summary, without the names (see PruneSummary).
 */
export interface PruneThreadAnswer {
  result: PruneSummary | undefined;
}

/** What the prune thread needs: plain values, since a thread shares no objects (nor the clock: the run's one `now`). */
export interface PruneJob {
  /** The SQLite file, or the PostgreSQL URL (LINEUP_DB). */
  dbPath: string;
  /** The run's time (Unix seconds), read once by the server's clock. */
  now: number;
  graceDays: number;
  keepDays: number;
  retiredKeyDays: number;
  maxGapDays: number;
  maxSharePercent: number;
}

/** What the thread is started with: the job, and a cell the server sets to stop it between two chunks. */
export interface PruneThreadData extends PruneJob {
  stop: SharedArrayBuffer;
}

/** The thread's module, next to this one once built (dist/); absent when this one runs from the TypeScript sources (the tests). */
const THREAD_MODULE = new URL('./prune-worker.js', import.meta.url);

/** The job of a run at `now`, from the configuration (LINEUP_DB and the PRUNE_ variables), on either backend. */
export function pruneJobOf(config: Config, now: number): PruneJob {
  return {
    dbPath: config.dbPath,
    now,
    graceDays: config.pruneGraceDays,
    keepDays: config.pruneKeepDays,
    retiredKeyDays: config.retiredKeyDays,
    maxGapDays: config.pruneMaxGapDays,
    maxSharePercent: config.pruneMaxSharePercent,
  };
}

/** Whether the prune can run on its own thread here. */
export function pruneThreadAvailable(dbPath: string): boolean {
  return dbPath !== ':memory:' && existsSync(fileURLToPath(THREAD_MODULE));
}

/**
 * Runs a prune on a thread of its own, over its own database connection, so that no chunk, commit
 * or checkpoint holds the server's event loop: measured at 0.5–1 s per chunk of 5,000 when the
 * server ran them itself, every request arriving meanwhile waiting that long. The thread runs at a
 * lower CPU priority and rests after each chunk as long as it took, as `lineup prune` does. Once
 * `signal` aborts (the server stops), it ends between two chunks, and the result says `stopped`.
 * The server sees the thread's commits as another connection's: it forgets only the subscribers
 * each chunk removed, from the change log. On PostgreSQL the thread takes the prune lock first, and
 * resolves undefined, running nothing, when another node holds it.
 */
export function pruneInThread(job: PruneJob, signal: AbortSignal): Promise<PruneSummary | undefined> {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const stopNow = () => {
    Atomics.store(stop, 0, 1);
    Atomics.notify(stop, 0);
  };
  const data: PruneThreadData = { ...job, stop: stop.buffer as SharedArrayBuffer };
  const worker = new Worker(THREAD_MODULE, { workerData: data });
  if (signal.aborted) stopNow();
  else signal.addEventListener('abort', stopNow, { once: true });
  return new Promise((resolve, reject) => {
    let answer: PruneThreadAnswer | undefined;
    let failure: Error | undefined;
    worker.once('message', (message: PruneThreadAnswer) => {
      answer = message;
    });
    worker.once('error', (error) => {
      failure = error;
    });
    worker.once('exit', (code) => {
      signal.removeEventListener('abort', stopNow);
      if (answer) resolve(answer.result);
      else reject(failure ?? new Error(`the prune thread exited with code ${code} before it finished`));
    });
  });
}
