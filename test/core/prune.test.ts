import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { runPruneOnce } from '../../src/jobs/prune-schedule.js';
import { startLineup } from '../../src/standalone.js';
import { hashPlaylistKey } from '../../src/subscribers/keys.js';
import { advanceHeartbeat, PRUNE_HEARTBEAT_SETTING, pruneLapsed } from '../../src/subscribers/prune.js';
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
  // Two of five go in one run: above the default PRUNE_MAX_SHARE, which has tests of its own below.
  const started = await startTestLineup({ clock: () => NOW, env: { PRUNE_GRACE_DAYS: String(GRACE_DAYS), PRUNE_MAX_SHARE: '50' } });
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

  it('when lineup prune --verbose runs, then it deletes the same set, with their subscriber_packages rows, and names them and says how many', async () => {
    lineup = await lineupAtBoundary();
    expect(rows(lineup.dbPath).links).toBe(5);
    const pruned = await lineup.cli(['prune', '--verbose']);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain('deleted long-gone');
    expect(pruned.stdout).toContain('deleted past-grace');
    expect(pruned.stdout).toContain('deleted 2 subscribers');
    expect(rows(lineup.dbPath)).toEqual({ usernames: ['active', 'at-grace', 'just-lapsed'], links: 3, orphanLinks: 0 });
    expect((await lineup.cli(['prune'])).stdout).toContain('deleted 0 subscribers');
  });

  it('when lineup prune --dry-run --verbose runs, then it lists them and deletes none', async () => {
    lineup = await lineupAtBoundary();
    const before = rows(lineup.dbPath);
    const dry = await lineup.cli(['prune', '--dry-run', '--verbose']);
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
    expect((await lineup.cli(['prune', '--verbose'])).stdout).toContain('deleted rotated-lapsed');
    for (const url of [first, second]) expect((await fetchFrom(url)).status).toBe(410);
    now = TODAY + (RETIRED_KEY_DAYS - 1) * DAY;
    expect((await lineup.cli(['prune'])).stdout).toContain('forgot 0 retired keys');
    for (const url of [first, second]) expect((await fetchFrom(url)).status).toBe(410);
    now = TODAY + (RETIRED_KEY_DAYS + 3) * DAY;
    expect((await lineup.cli(['prune'])).stdout).toContain('forgot 2 retired keys');
    for (const url of [first, second]) expect((await fetchFrom(url)).status).toBe(404);
  });
});

/** What is left in the subscribers and recycle tables. */
function tables(dbPath: string) {
  const db = new Database(dbPath, { readonly: true });
  try {
    return {
      subscribers: db.prepare('SELECT username FROM subscribers ORDER BY username').pluck().all() as string[],
      recycled: db.prepare('SELECT username FROM pruned_subscribers ORDER BY username').pluck().all() as string[],
    };
  } finally {
    db.close();
  }
}

describe('prune that cannot destroy', () => {
  // Keys retire by trigger, stamped with SQLite's own clock, so this clock starts from the real one.
  const START = systemClock();

  it('when the clock jumps 40 days ahead, then prune deletes nobody who had time left: the CLI exits 1 with one line, the job warns and counts the refusal', async () => {
    let now = START;
    lineup = await startTestLineup({ clock: () => now });
    const thirtyLeft = await addSubscriber(lineup, 'thirty-left', '--days', '30');
    await addSubscriber(lineup, 'year-left', '--days', '365');
    for (let n = 0; n < 8; n++) await addSubscriber(lineup, `long-${n}`, '--days', '3650');
    now = START + 40 * DAY;

    const refused = await lineup.cli(['prune']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^lineup: prune refused: .*40 days after Lineup last saw it.*PRUNE_MAX_GAP_DAYS 2.*--confirm-clock/);

    const { logger, logs } = captureLogs();
    const job = () =>
      pruneLapsed(lineup!.context.subscribers, () => now, 7, {
        safety: { heartbeat: lineup!.context.settings, maxGapDays: 2, maxSharePercent: 10 },
      });
    expect(runPruneOnce(job, logger, lineup.metrics)?.refusal?.reason).toBe('clock_gap');
    const warning = logs.lines.map((line) => JSON.parse(line) as { level: number; reason?: string; msg: string }).find((l) => l.reason);
    expect(warning).toMatchObject({ level: 40, reason: 'clock_gap' });
    expect(await lineup.metrics.registry.getSingleMetricAsString('lineup_prune_refusals_total')).toContain(
      'lineup_prune_refusals_total{reason="clock_gap"} 1',
    );
    expect(tables(lineup.dbPath)).toMatchObject({ recycled: [] });
    expect(tables(lineup.dbPath).subscribers).toHaveLength(10);
    // Back on the real time, the URL was never touched.
    now = START;
    expect((await fetchFrom(thirtyLeft)).status).toBe(200);
  });

  it('when the operator confirms the clock, then the run goes ahead and resets the heartbeat, so the next run needs no confirmation', async () => {
    let now = START;
    lineup = await startTestLineup({ clock: () => now, env: { PRUNE_MAX_SHARE: '100' } });
    await addSubscriber(lineup, 'ends-soon', '--days', '1');
    await addSubscriber(lineup, 'ends-later', '--days', '20');
    now = START + 10 * DAY;
    expect((await lineup.cli(['prune'])).code).toBe(1);
    const dry = await lineup.cli(['prune', '--dry-run', '--verbose']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would delete ends-soon');
    expect(dry.stdout).toContain('a real run would be refused');
    const confirmed = await lineup.cli(['prune', '--confirm-clock', '--verbose']);
    expect(confirmed.code).toBe(0);
    expect(confirmed.stdout).toContain('deleted ends-soon');
    expect(lineup.context.settings.get(PRUNE_HEARTBEAT_SETTING)).toBe(toSqlTime(now));
    now = START + 30 * DAY;
    expect((await lineup.cli(['prune'])).code).toBe(1); // 20 days on: a gap again
    now = START + 10 * DAY + 2 * DAY; // within PRUNE_MAX_GAP_DAYS of the confirmed run
    await addSubscriber(lineup, 'gone-by-then', '--until', toSqlTime(START), '--allow-past');
    const next = await lineup.cli(['prune', '--verbose']);
    expect(next.code).toBe(0);
    expect(next.stdout).toContain('deleted gone-by-then');
  });

  it('when one run would remove more than PRUNE_MAX_SHARE percent of the subscribers, then it is refused, however right the clock', async () => {
    lineup = await startTestLineup({ clock: () => NOW });
    const rowsSql = Array.from({ length: 20 }, (_, n) => {
      const expires = n < 3 ? '2001-01-01 00:00:00' : '2099-01-01 00:00:00';
      return `INSERT INTO subscribers (username, expires_at) VALUES ('s${n}', '${expires}');`;
    }).join('\n');
    await applySql(lineup, rowsSql);
    // 3 of 20 is 15%, above the default 10% (2 of 20).
    const refused = await lineup.cli(['prune']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('3 of 20 subscribers would be pruned, more than PRUNE_MAX_SHARE 10%');
    expect(tables(lineup.dbPath).subscribers).toHaveLength(20);
    const { logger } = captureLogs();
    const job = () =>
      pruneLapsed(lineup!.context.subscribers, () => NOW, 7, {
        safety: { heartbeat: lineup!.context.settings, maxGapDays: 2, maxSharePercent: 10 },
      });
    expect(runPruneOnce(job, logger, lineup.metrics)?.refusal?.reason).toBe('share');
    expect(await lineup.metrics.registry.getSingleMetricAsString('lineup_prune_refusals_total')).toContain('{reason="share"} 1');
    expect((await lineup.cli(['prune', '--confirm-clock'])).stdout).toContain('deleted 3 subscribers');
  });

  it('when a subscriber pruned legitimately is restored, then its old URL works again: 410 while pruned, then its own state, 200 once renewed', async () => {
    let now = START;
    lineup = await startTestLineup({ clock: () => now, env: { PRUNE_GRACE_DAYS: '0' } });
    await applySql(lineup, "INSERT INTO packages (name) VALUES ('gold'); INSERT INTO channels (stream, name) VALUES ('one', 'One');");
    const url = await addSubscriber(lineup, 'lapsing', '--days', '1', '--package', 'gold', '--max-connections', '3', '--note', 'vip');
    await addSubscriber(lineup, 'staying', '--days', '365');
    const before = lineup.context.subscribers.get('lapsing');
    now = START + 2 * DAY;
    expect((await lineup.cli(['prune', '--verbose'])).stdout).toContain('deleted lapsing');
    expect(tables(lineup.dbPath)).toEqual({ subscribers: ['staying'], recycled: ['lapsing'] });
    expect((await fetchFrom(url)).status).toBe(410);

    const restored = await lineup.cli(['subscriber', 'restore', 'lapsing']);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain('restored lapsing: expired');
    expect(restored.stdout).toContain('lineup subscriber renew lapsing');
    expect(tables(lineup.dbPath)).toEqual({ subscribers: ['lapsing', 'staying'], recycled: [] });
    const after = lineup.context.subscribers.get('lapsing');
    expect({ ...after, id: 0 }).toEqual({ ...before, id: 0 });
    expect((await fetchFrom(url)).status).toBe(403);
    expect((await lineup.cli(['subscriber', 'renew', 'lapsing', '--days', '30'])).code).toBe(0);
    const served = await fetchFrom(url);
    expect(served.status).toBe(200);
    expect(served.body).toContain('One');
  });

  it('when PRUNE_KEEP_DAYS have passed since the prune, then the prune job purges the row and restore says there is none', async () => {
    let now = START;
    lineup = await startTestLineup({ clock: () => now, env: { PRUNE_GRACE_DAYS: '0', PRUNE_KEEP_DAYS: '30' } });
    await addSubscriber(lineup, 'lapsing', '--days', '1');
    await addSubscriber(lineup, 'staying', '--days', '3650');
    now = START + 2 * DAY;
    expect((await lineup.cli(['prune'])).code).toBe(0);
    now = START + 2 * DAY + 30 * DAY - 1;
    expect((await lineup.cli(['prune'])).stdout).toContain('purged 0 pruned subscribers (older than PRUNE_KEEP_DAYS, 30 days)');
    expect(tables(lineup.dbPath).recycled).toEqual(['lapsing']);
    now += 1;
    expect((await lineup.cli(['prune', '--dry-run'])).stdout).toContain('would purge 1 pruned subscriber');
    expect((await lineup.cli(['prune'])).stdout).toContain('purged 1 pruned subscriber');
    expect(tables(lineup.dbPath).recycled).toEqual([]);
    const restore = await lineup.cli(['subscriber', 'restore', 'lapsing']);
    expect(restore.code).not.toBe(0);
    expect(restore.stderr).toMatch(/^lineup: no pruned subscriber named "lapsing"/);
  });

  it('when the name was taken again since the prune, then restore refuses with one line and changes nothing', async () => {
    let now = START;
    lineup = await startTestLineup({ clock: () => now, env: { PRUNE_GRACE_DAYS: '0' } });
    await addSubscriber(lineup, 'reused', '--days', '1');
    await addSubscriber(lineup, 'staying', '--days', '3650');
    now = START + 2 * DAY;
    expect((await lineup.cli(['prune'])).code).toBe(0);
    await addSubscriber(lineup, 'reused', '--days', '5');
    const restore = await lineup.cli(['subscriber', 'restore', 'reused']);
    expect(restore.code).not.toBe(0);
    expect(restore.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(restore.stderr).toContain('subscriber "reused" exists again');
    expect(tables(lineup.dbPath).recycled).toEqual(['reused']);
  });
});

describe('the prune heartbeat', () => {
  const store = (value?: string) => {
    const settings = new Map<string, string>(value === undefined ? [] : [[PRUNE_HEARTBEAT_SETTING, value]]);
    return { get: (name: string) => settings.get(name), set: (name: string, v: string) => void settings.set(name, v) };
  };
  const T = fromSqlTime('2030-01-01 00:00:00');

  it('when the clock moves on within PRUNE_MAX_GAP_DAYS, then it follows; when it jumps further or back, then it stays, unless confirmed', () => {
    const heartbeat = store(toSqlTime(T));
    expect(advanceHeartbeat(heartbeat, T + 2 * DAY, 2)).toBe(true);
    expect(heartbeat.get(PRUNE_HEARTBEAT_SETTING)).toBe(toSqlTime(T + 2 * DAY));
    expect(advanceHeartbeat(heartbeat, T + 40 * DAY, 2)).toBe(false);
    expect(advanceHeartbeat(heartbeat, T, 2)).toBe(false);
    expect(heartbeat.get(PRUNE_HEARTBEAT_SETTING)).toBe(toSqlTime(T + 2 * DAY));
    expect(advanceHeartbeat(heartbeat, T + 40 * DAY, 2, true)).toBe(true);
    expect(heartbeat.get(PRUNE_HEARTBEAT_SETTING)).toBe(toSqlTime(T + 40 * DAY));
    const fresh = store();
    expect(advanceHeartbeat(fresh, T, 2)).toBe(true);
  });

  it('when the server restarts after a jump, then the heartbeat stays where it was, so the jump still refuses the prune', async () => {
    let now = fromSqlTime('2030-06-15 12:00:00');
    lineup = await startTestLineup({ clock: () => now });
    const started = lineup.context.settings.get(PRUNE_HEARTBEAT_SETTING);
    expect(started).toBe(toSqlTime(now));
    await addSubscriber(lineup, 'thirty-left', '--days', '30');
    now += 40 * DAY;
    const env = { ...lineup.env, PORT: '0' };
    const second = await startLineup(loadConfig(env), { logger: captureLogs().logger, clock: () => now, seedDemo: false });
    try {
      expect(lineup.context.settings.get(PRUNE_HEARTBEAT_SETTING)).toBe(started);
      expect((await lineup.cli(['prune'])).code).toBe(1);
    } finally {
      await second.stop();
    }
  });
});
