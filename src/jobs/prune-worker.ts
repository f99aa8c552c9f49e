// The prune thread's module (see prune-thread.ts): one run over its own connection, then it ends.
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../db/open.js';
import { PostgresAdminSettings } from '../db/pg/admin-settings.js';
import { whilePruneLockHeld } from '../db/pg/prune-lock.js';
import { PostgresSubscriberStore } from '../db/pg/subscriber-store.js';
import { SyncPostgresClient } from '../db/pg/sync-client.js';
import { isPostgresUrl } from '../db/pg/url.js';
import { SettingsStore } from '../db/settings-store.js';
import { SubscriberStore } from '../db/subscriber-store.js';
import { type HeartbeatStore, type PruneResult, pruneLapsed, summaryOf } from '../subscribers/prune.js';
import type { SubscriberStorage } from '../subscribers/subscriber-storage.js';
import { lowerThreadPriority, restingAsLongAsWorked } from './prune-pacing.js';
import type { PruneThreadAnswer, PruneThreadData } from './prune-thread.js';

/** As SQLite's busy_timeout: a row held by a long admin transaction fails the run, which the next tick retries. */
const LOCK_WAIT = '5000ms';

const job = workerData as PruneThreadData;
const stop = new Int32Array(job.stop);
const clock = () => job.now;
lowerThreadPriority();

const prune = (store: SubscriberStorage, heartbeat: HeartbeatStore): PruneResult =>
  pruneLapsed(store, clock, job.graceDays, {
    keepDays: job.keepDays,
    safety: { heartbeat, maxGapDays: job.maxGapDays, maxSharePercent: job.maxSharePercent },
    onChunk: restingAsLongAsWorked(stop),
    stopRequested: () => Atomics.load(stop, 0) !== 0,
  });

/** The server opened, checked and migrated the file already. */
function onSqlite(): PruneResult {
  const db = openDatabase(job.dbPath, { create: false });
  try {
    return prune(new SubscriberStore(db, { days: job.retiredKeyDays, clock }), new SettingsStore(db));
  } finally {
    db.close();
  }
}

/**
 * Over the synchronous connection the admin commands use (its own worker, inside this thread),
 * under the prune lock that makes one run at a time across every node: none when another holds it.
 */
function onPostgres(): PruneResult | undefined {
  const db = SyncPostgresClient.connect(job.dbPath);
  try {
    // Audited as the server's, as SQLite's prune is.
    db.query("SELECT set_config('lineup.actor', 'server', false), set_config('lock_timeout', $1, false)", [LOCK_WAIT]);
    return whilePruneLockHeld(db, () =>
      prune(new PostgresSubscriberStore(db, { days: job.retiredKeyDays, clock }), new PostgresAdminSettings(db)),
    );
  } finally {
    db.close();
  }
}

const result = isPostgresUrl(job.dbPath) ? onPostgres() : onSqlite();
const answer: PruneThreadAnswer = { result: result && summaryOf(result) };
parentPort!.postMessage(answer);
