import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startChangeLogTrim } from '../../src/jobs/change-log-trim.js';
import { type RunningLineup, startLineup } from '../../src/standalone.js';
import { CHANGE_LOG_KEPT } from '../../src/subscribers/prune.js';
import { captureLogs, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { insertSubscribers } from './support.js';

/** More rows than are kept: two batches of the trim and then some. */
const CHANGES = CHANGE_LOG_KEPT + 12_345;

let lineup: TestLineup | undefined;
let restarted: RunningLineup | undefined;
afterEach(async () => {
  await restarted?.stop();
  restarted = undefined;
  await lineup?.close();
  lineup = undefined;
});

/** Far ahead: subscribers added by hand for their change-log rows, never lapsed. */
const PAYING_UNTIL = '2099-01-01 00:00:00';

function logState(dbPath: string): { rows: number; first: number; last: number; trimmed: number } {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db
      .prepare(`SELECT count(*) AS rows, min(seq) AS first, max(seq) AS last,
                       (SELECT through_seq FROM subscriber_changes_trimmed) AS trimmed FROM subscriber_changes`)
      .get() as { rows: number; first: number; last: number; trimmed: number };
  } finally {
    db.close();
  }
}

async function until(condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 30_000; !condition(); ) {
    if (Date.now() > deadline) throw new Error('condition not met in 30 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the subscriber change log trim', () => {
  it('when a server starts with PRUNE_CRON off on a log longer than is kept, then housekeeping trims it to the last rows and records how far', async () => {
    lineup = await startTestLineup();
    await lineup.stop();
    insertSubscribers(lineup.dbPath, CHANGES, 'renewed-', PAYING_UNTIL);
    const before = logState(lineup.dbPath);
    expect(before.rows).toBe(CHANGES);

    restarted = await startLineup(loadConfig(lineup.env), { logger: captureLogs().logger });
    await until(() => logState(lineup!.dbPath).rows === CHANGE_LOG_KEPT);

    const after = logState(lineup.dbPath);
    expect(after).toEqual({
      rows: CHANGE_LOG_KEPT,
      first: before.last - CHANGE_LOG_KEPT + 1,
      last: before.last,
      trimmed: before.last - CHANGE_LOG_KEPT,
    });
  });

  it('when changes pile up while the server runs, then the next periodic trim takes the log back to the last rows kept', async () => {
    lineup = await startTestLineup();
    const { logger } = captureLogs();
    const trim = startChangeLogTrim(lineup.context.subscribers, logger, 50);
    try {
      insertSubscribers(lineup.dbPath, CHANGE_LOG_KEPT, 'first-', PAYING_UNTIL);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(logState(lineup.dbPath).rows).toBe(CHANGE_LOG_KEPT);
      insertSubscribers(lineup.dbPath, 12_345, 'more-', PAYING_UNTIL);
      await until(() => logState(lineup!.dbPath).rows === CHANGE_LOG_KEPT);
      expect(logState(lineup.dbPath).trimmed).toBe(12_345);
    } finally {
      await trim.stop();
    }
  });

  it("when another process holds the write lock (a prune chunk), then the server's trim is refused at once instead of holding the event loop, and the next tick trims", async () => {
    lineup = await startTestLineup();
    const { subscribers } = lineup.context;
    insertSubscribers(lineup.dbPath, CHANGE_LOG_KEPT + 1000, 'held-', PAYING_UNTIL);
    const { logger, logs } = captureLogs();
    const holder = new Database(lineup.dbPath);
    holder.exec('BEGIN IMMEDIATE');
    let trim: ReturnType<typeof startChangeLogTrim> | undefined;
    try {
      // The busy timeout is 5 s: waiting for the lock would hold every request that long.
      const started = performance.now();
      expect(() => subscribers.trimChangeLogWithoutWaiting(CHANGE_LOG_KEPT, 1000)).toThrow(
        expect.objectContaining({ code: 'SQLITE_BUSY' }),
      );
      expect(performance.now() - started).toBeLessThan(1000);
      trim = startChangeLogTrim({ trimChangeLog: (keep, limit) => subscribers.trimChangeLogWithoutWaiting(keep, limit) }, logger, 300);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(logState(lineup.dbPath).rows).toBe(CHANGE_LOG_KEPT + 1000);
    } finally {
      holder.exec('COMMIT');
      holder.close();
    }
    try {
      await until(() => logState(lineup!.dbPath).rows === CHANGE_LOG_KEPT);
    } finally {
      await trim?.stop();
    }
    expect(logs.text()).not.toMatch(/failed/);
  });
});
