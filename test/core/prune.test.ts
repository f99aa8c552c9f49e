import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runPruneOnce } from '../../src/jobs/prune-schedule.js';
import { pruneLapsed } from '../../src/subscribers/prune.js';
import { fromSqlTime, toSqlTime } from '../../src/time.js';
import { captureLogs, fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { addSubscriber, applySql } from './support.js';

const DAY = 86_400;
const NOW = fromSqlTime('2030-06-15 12:00:00');
const GRACE_DAYS = 7;
const AT_GRACE = toSqlTime(NOW - GRACE_DAYS * DAY); // exactly at the end of grace: kept
const PAST_GRACE = toSqlTime(NOW - GRACE_DAYS * DAY - 1); // one second past: deleted

let lineup: TestLineup | undefined;
afterEach(async () => {
  await lineup?.close();
  lineup = undefined;
});

/** Subscribers on both sides of the grace boundary, each with a package link. */
async function lineupAtBoundary(): Promise<TestLineup> {
  const started = await startTestLineup({ clock: () => NOW, env: { PRUNE_GRACE_DAYS: String(GRACE_DAYS) } });
  await applySql(started, "INSERT INTO packages (name) VALUES ('gold'); INSERT INTO channels (stream, name) VALUES ('one', 'One');");
  await addSubscriber(started, 'at-grace', '--until', AT_GRACE, '--allow-past', '--package', 'gold');
  await addSubscriber(started, 'past-grace', '--until', PAST_GRACE, '--allow-past', '--package', 'gold');
  await addSubscriber(started, 'long-gone', '--until', '2001-01-01', '--allow-past', '--package', 'gold');
  await addSubscriber(started, 'just-lapsed', '--until', toSqlTime(NOW - 1), '--allow-past', '--package', 'gold');
  await addSubscriber(started, 'active', '--days', '5', '--package', 'gold');
  return started;
}

function rows(dbPath: string) {
  const db = new Database(dbPath, { readonly: true });
  try {
    return {
      usernames: db.prepare('SELECT username FROM subscribers ORDER BY username').pluck().all() as string[],
      links: db.prepare('SELECT count(*) FROM subscriber_packages').pluck().get() as number,
      orphanLinks: db
        .prepare('SELECT count(*) FROM subscriber_packages WHERE subscriber_id NOT IN (SELECT id FROM subscribers)')
        .pluck()
        .get() as number,
    };
  } finally {
    db.close();
  }
}

describe('prune', () => {
  it('when run with an injected clock, then exactly the subscribers past grace go, one second past included, at grace kept', async () => {
    lineup = await lineupAtBoundary();
    const result = pruneLapsed(lineup.context.subscribers, () => NOW, GRACE_DAYS);
    expect(result.usernames).toEqual(['long-gone', 'past-grace']);
    const after = rows(lineup.dbPath);
    expect(after.usernames).toEqual(['active', 'at-grace', 'just-lapsed']);
    expect(after.links).toBe(3);
    expect(after.orphanLinks).toBe(0);
  });

  it('when lineup prune runs, then it deletes the same set, with their subscriber_packages rows, and says how many', async () => {
    lineup = await lineupAtBoundary();
    expect(rows(lineup.dbPath).links).toBe(5);
    const pruned = await lineup.cli(['prune']);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain('deleted long-gone');
    expect(pruned.stdout).toContain('deleted past-grace');
    expect(pruned.stdout).toContain('deleted 2 subscribers');
    expect(rows(lineup.dbPath)).toEqual({ usernames: ['active', 'at-grace', 'just-lapsed'], links: 3, orphanLinks: 0 });
    expect((await lineup.cli(['prune'])).stdout).toContain('deleted 0 subscribers');
  });

  it('when lineup prune --dry-run runs, then it lists them and deletes none', async () => {
    lineup = await lineupAtBoundary();
    const before = rows(lineup.dbPath);
    const dry = await lineup.cli(['prune', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would delete long-gone');
    expect(dry.stdout).toContain('would delete past-grace');
    expect(dry.stdout).not.toContain('at-grace');
    expect(dry.stdout).toContain('would delete 2 subscribers');
    expect(rows(lineup.dbPath)).toEqual(before);
  });

  it('when PRUNE_GRACE_DAYS is 0, then everyone lapsed before now goes and an active subscriber stays', async () => {
    lineup = await lineupAtBoundary();
    const result = pruneLapsed(lineup.context.subscribers, () => NOW, 0);
    expect(result.usernames).toEqual(['at-grace', 'just-lapsed', 'long-gone', 'past-grace']);
    expect(rows(lineup.dbPath).usernames).toEqual(['active']);
  });

  it('when a subscriber has lapsed but is within grace, then the playlist already answers 403', async () => {
    lineup = await lineupAtBoundary();
    const url = await addSubscriber(lineup, 'edge', '--until', toSqlTime(NOW), '--allow-past'); // expires this very second
    const response = await fetchFrom(url);
    expect(response.status).toBe(403);
    expect(response.body).toContain(toSqlTime(NOW));
  });

  it('when the scheduled job runs once, then it logs its count (and no keys)', async () => {
    lineup = await lineupAtBoundary();
    const { logger, logs } = captureLogs();
    const result = runPruneOnce(() => pruneLapsed(lineup!.context.subscribers, () => NOW, GRACE_DAYS), logger);
    expect(result?.usernames.length).toBe(2);
    const line = logs.lines.map((l) => JSON.parse(l) as { deleted?: number }).find((entry) => entry.deleted !== undefined);
    expect(line?.deleted).toBe(2);
  });
});
