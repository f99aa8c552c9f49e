import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { addSubscriber, applySql, insertSubscribers, LONG_AGO } from './support.js';

/** Four of the prune's chunks of 5,000. */
const LAPSED = 20_000;
const CHUNK = 5000;

let lineup: TestLineup | undefined;
let reader: Database.Database | undefined;
afterEach(async () => {
  reader?.close();
  reader = undefined;
  await lineup?.close();
  lineup = undefined;
});

/** A one-process server whose prune job runs every second, one paying subscriber and LAPSED long lapsed ones. */
async function serverAboutToPrune(): Promise<{ lineup: TestLineup; url: string; pruned: () => number; lapsedLeft: () => number }> {
  lineup = await startTestLineup({ env: { PRUNE_CRON: '* * * * * *', PRUNE_GRACE_DAYS: '7', PRUNE_MAX_SHARE: '100' } });
  await applySql(lineup, "INSERT INTO channels (stream, name) VALUES ('one', 'One');");
  const url = await addSubscriber(lineup, 'paying', '--days', '30');
  insertSubscribers(lineup.dbPath, LAPSED, 'gone-', LONG_AGO);
  reader = new Database(lineup.dbPath, { readonly: true });
  const count = reader.prepare('SELECT count(*) FROM pruned_subscribers').pluck();
  const left = reader.prepare("SELECT count(*) FROM subscribers WHERE username LIKE 'gone-%'").pluck();
  return { lineup, url, pruned: () => count.get() as number, lapsedLeft: () => left.get() as number };
}

/** Looks every few milliseconds: a look can only happen while the event loop is free. */
async function until(condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 30_000; !condition(); ) {
    if (Date.now() > deadline) throw new Error('condition not met in 30 s');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const pruneLogs = (running: TestLineup) =>
  running.logs.lines
    .map((line) => JSON.parse(line) as { job?: string; msg: string; deleted?: number })
    .filter((line) => line.job === 'prune');

describe("the server's scheduled prune", () => {
  it('when it runs in one process, then a playlist request sent between its chunks is answered before the run ends', async () => {
    const { lineup, url, pruned } = await serverAboutToPrune();
    const finished = () => pruneLogs(lineup).some((line) => line.msg.startsWith('prune finished') && line.deleted === LAPSED);

    await until(() => pruned() > 0);
    // The test's own timer ran after the first chunk committed and before the last: the run yields.
    expect(pruned()).toBeLessThan(LAPSED);
    const response = await fetchFrom(url);
    const finishedWhenAnswered = finished();
    expect(response.status).toBe(200);
    expect(response.body).toContain('One');
    expect(finishedWhenAnswered).toBe(false);

    await until(finished);
    expect(pruned()).toBe(LAPSED);
  });

  it('when the server stops during a run, then the run ends between two chunks: those done stay committed, the rest is left to the next run', async () => {
    const { lineup, pruned, lapsedLeft } = await serverAboutToPrune();
    await until(() => pruned() > 0);
    await lineup.stop();

    const done = pruned();
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(LAPSED);
    expect(done % CHUNK).toBe(0);
    expect(done + lapsedLeft()).toBe(LAPSED);
    expect(pruneLogs(lineup).filter((line) => line.deleted !== 0)).toEqual([
      expect.objectContaining({ msg: 'prune stopped with the server; the next run prunes the rest', deleted: done }),
    ]);

    const rest = await lineup.cli(['prune']);
    expect(rest.code).toBe(0);
    expect(rest.stdout).toContain(`deleted ${LAPSED - done} subscribers`);
    expect(pruned()).toBe(LAPSED);
  });
});
