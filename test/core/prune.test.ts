import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runPruneOnce } from '../../src/jobs/prune-schedule.js';
import { hashPlaylistKey } from '../../src/subscribers/keys.js';
import { pruneLapsed } from '../../src/subscribers/prune.js';
import { fromSqlTime, systemClock, toSqlTime } from '../../src/time.js';
import { captureLogs, fetchFrom, lastLine, onServer, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { keyOf } from '../links/support.js';
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

describe('prune forgets retired keys after RETIRED_KEY_DAYS', () => {
  const RETIRED_KEY_DAYS = 30;
  // Keys retire by trigger, stamped with SQLite's own clock, so this clock starts from the real one.
  const TODAY = systemClock();
  const FORGOTTEN_FROM = toSqlTime(TODAY - RETIRED_KEY_DAYS * DAY); // retired exactly that long ago: forgotten
  const KEPT_FROM = toSqlTime(TODAY - RETIRED_KEY_DAYS * DAY + 1); // one second less: kept

  /** Sets when a URL's key retired, as if its subscriber had been removed or rotated then. */
  function retiredAt(dbPath: string, url: string, time: string): void {
    const db = new Database(dbPath);
    try {
      expect(db.prepare('UPDATE retired_keys SET retired_at = ? WHERE key_hash = ?').run(time, hashPlaylistKey(keyOf(url))).changes).toBe(
        1,
      );
    } finally {
      db.close();
    }
  }

  const retiredKeyCount = (dbPath: string) => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return db.prepare('SELECT count(*) FROM retired_keys').pluck().get() as number;
    } finally {
      db.close();
    }
  };

  /** A removed URL and a rotated-away URL on each side of the retention boundary. */
  async function retiredOnBothSides(started: TestLineup) {
    const urls = { forgottenRemoved: '', keptRemoved: '', forgottenRotated: '', keptRotated: '' };
    for (const [name, time] of [
      ['forgottenRemoved', FORGOTTEN_FROM],
      ['keptRemoved', KEPT_FROM],
    ] as const) {
      urls[name] = await addSubscriber(started, name, '--days', '5');
      expect((await started.cli(['subscriber', 'remove', name])).code).toBe(0);
      retiredAt(started.dbPath, urls[name], time);
    }
    for (const [name, time] of [
      ['forgottenRotated', FORGOTTEN_FROM],
      ['keptRotated', KEPT_FROM],
    ] as const) {
      urls[name] = await addSubscriber(started, name, '--days', '5');
      expect((await started.cli(['subscriber', 'rotate', name])).code).toBe(0);
      retiredAt(started.dbPath, urls[name], time);
    }
    return urls;
  }

  it('when a retired key reaches RETIRED_KEY_DAYS, then lookups forget it at once: 404 instead of 410 or 403, before any prune', async () => {
    lineup = await startTestLineup({ clock: () => TODAY, env: { RETIRED_KEY_DAYS: String(RETIRED_KEY_DAYS) } });
    const urls = await retiredOnBothSides(lineup);
    expect((await fetchFrom(urls.keptRemoved)).status).toBe(410);
    expect((await fetchFrom(urls.keptRotated)).status).toBe(403);
    expect((await fetchFrom(urls.forgottenRemoved)).status).toBe(404);
    expect((await fetchFrom(urls.forgottenRotated)).status).toBe(404);
  });

  it('when the prune job runs, then in the same run it deletes the retired keys at or past RETIRED_KEY_DAYS, and keeps the younger', async () => {
    lineup = await startTestLineup({ clock: () => TODAY, env: { RETIRED_KEY_DAYS: String(RETIRED_KEY_DAYS) } });
    const urls = await retiredOnBothSides(lineup);
    await addSubscriber(lineup, 'long-gone', '--until', '2001-01-01', '--allow-past');
    expect(retiredKeyCount(lineup.dbPath)).toBe(4);
    const result = runPruneOnce(() => pruneLapsed(lineup!.context.subscribers, () => TODAY, GRACE_DAYS), captureLogs().logger);
    expect(result).toMatchObject({ usernames: ['long-gone'], forgottenKeys: 2 });
    // The two kept, and the key of the subscriber this very run deleted.
    expect(retiredKeyCount(lineup.dbPath)).toBe(3);
    expect((await fetchFrom(urls.keptRemoved)).status).toBe(410);
    expect((await fetchFrom(urls.keptRotated)).status).toBe(403);
  });

  it('when lineup prune runs, then it says how many keys it forgot; with --dry-run, how many it would, and forgets none', async () => {
    lineup = await startTestLineup({ clock: () => TODAY, env: { RETIRED_KEY_DAYS: String(RETIRED_KEY_DAYS) } });
    await retiredOnBothSides(lineup);
    const dry = await lineup.cli(['prune', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would forget 2 retired keys (older than RETIRED_KEY_DAYS, 30 days)');
    expect(retiredKeyCount(lineup.dbPath)).toBe(4);
    const pruned = await lineup.cli(['prune']);
    expect(pruned.stdout).toContain('forgot 2 retired keys');
    expect(retiredKeyCount(lineup.dbPath)).toBe(2);
    expect((await lineup.cli(['prune'])).stdout).toContain('forgot 0 retired keys');
  });

  it('when a rotated subscriber is pruned, then both its URLs answer 410, and once RETIRED_KEY_DAYS have passed the prune forgets them (404)', async () => {
    let now = TODAY;
    lineup = await startTestLineup({ clock: () => now, env: { RETIRED_KEY_DAYS: String(RETIRED_KEY_DAYS), PRUNE_GRACE_DAYS: '0' } });
    const first = await addSubscriber(lineup, 'rotated-lapsed', '--until', toSqlTime(TODAY + DAY));
    const second = onServer(lineup, lastLine((await lineup.cli(['subscriber', 'rotate', 'rotated-lapsed'])).stdout));
    now = TODAY + 2 * DAY;
    expect((await lineup.cli(['prune'])).stdout).toContain('deleted rotated-lapsed');
    for (const url of [first, second]) expect((await fetchFrom(url)).status).toBe(410);
    now = TODAY + (RETIRED_KEY_DAYS - 1) * DAY;
    expect((await lineup.cli(['prune'])).stdout).toContain('forgot 0 retired keys');
    for (const url of [first, second]) expect((await fetchFrom(url)).status).toBe(410);
    now = TODAY + (RETIRED_KEY_DAYS + 3) * DAY;
    expect((await lineup.cli(['prune'])).stdout).toContain('forgot 2 retired keys');
    for (const url of [first, second]) expect((await fetchFrom(url)).status).toBe(404);
  });
});
