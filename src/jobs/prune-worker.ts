// The prune thread's module (see prune-thread.ts): one run over its own connection, then it ends.
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../db/open.js';
import { SettingsStore } from '../db/settings-store.js';
import { SubscriberStore } from '../db/subscriber-store.js';
import { pruneLapsed } from '../subscribers/prune.js';
import { lowerThreadPriority, restingAsLongAsWorked } from './prune-pacing.js';
import type { PruneThreadData } from './prune-thread.js';

const job = workerData as PruneThreadData;
const stop = new Int32Array(job.stop);
lowerThreadPriority();
// The server opened, checked and migrated the file already.
const db = openDatabase(job.dbPath, { create: false });
try {
  const clock = () => job.now;
  const result = pruneLapsed(new SubscriberStore(db, { days: job.retiredKeyDays, clock }), clock, job.graceDays, {
    keepDays: job.keepDays,
    safety: { heartbeat: new SettingsStore(db), maxGapDays: job.maxGapDays, maxSharePercent: job.maxSharePercent },
    onChunk: restingAsLongAsWorked(stop),
    stopRequested: () => Atomics.load(stop, 0) !== 0,
  });
  parentPort!.postMessage(result);
} finally {
  db.close();
}
