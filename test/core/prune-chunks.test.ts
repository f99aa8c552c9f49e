import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { pruneLapsed } from '../../src/subscribers/prune.js';
import { systemClock } from '../../src/time.js';
import { execOn, fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { addSubscriber, applySql, insertSubscribers, LONG_AGO } from './support.js';

// Fixed, so that the token bucket (and with it the ETag) cannot roll over during a test.
const NOW = systemClock();

let lineup: TestLineup | undefined;
afterEach(async () => {
  await lineup?.close();
  lineup = undefined;
});

/** Five long-lapsed subscribers, gone-1 lapsed first, each with a key and a package link, and one active. */
async function lineupWithLapsed(): Promise<TestLineup> {
  const started = await startTestLineup({ clock: () => NOW, env: { PRUNE_GRACE_DAYS: '7', PRUNE_MAX_SHARE: '100' } });
  await applySql(started, "INSERT INTO packages (name) VALUES ('gold'); INSERT INTO channels (stream, name) VALUES ('one', 'One');");
  for (let n = 1; n <= 5; n++) await addSubscriber(started, `gone-${n}`, '--until', `2001-01-0${n}`, '--allow-past', '--package', 'gold');
  await addSubscriber(started, 'paying', '--days', '30', '--package', 'gold');
  return started;
}

function tables(dbPath: string) {
  const db = new Database(dbPath, { readonly: true });
  try {
    const names = (sql: string) => db.prepare(sql).pluck().all() as string[];
    return {
      subscribers: names('SELECT username FROM subscribers ORDER BY username'),
      pruned: names('SELECT username FROM pruned_subscribers ORDER BY username'),
      links: db.prepare('SELECT count(*) FROM subscriber_packages').pluck().get() as number,
      removedKeys: db.prepare("SELECT count(*) FROM retired_keys WHERE reason = 'removed'").pluck().get() as number,
    };
  } finally {
    db.close();
  }
}

const walBytes = (dbPath: string) => statSync(`${dbPath}-wal`, { throwIfNoEntry: false })?.size ?? 0;

describe('prune in chunks', () => {
  it('when the prune runs in chunks of two, then each chunk commits whole, and together they move every lapsed subscriber', async () => {
    lineup = await lineupWithLapsed();
    const chunks: string[][] = [];
    const result = pruneLapsed(lineup.context.subscribers, () => NOW, 7, { chunkSize: 2, onChunk: (chunk) => chunks.push([...chunk]) });
    expect(chunks).toEqual([['gone-1', 'gone-2'], ['gone-3', 'gone-4'], ['gone-5']]);
    expect(result.usernames).toEqual(['gone-1', 'gone-2', 'gone-3', 'gone-4', 'gone-5']);
    expect(tables(lineup.dbPath)).toEqual({
      subscribers: ['paying'],
      pruned: ['gone-1', 'gone-2', 'gone-3', 'gone-4', 'gone-5'],
      links: 1,
      removedKeys: 5,
    });
  });

  it('when a chunk fails half-way, then the chunks before it stay done, the failed one changed nothing, and the next run finishes the job', async () => {
    lineup = await lineupWithLapsed();
    // Stands in for a crash in the middle of the second chunk: its first delete has run, its second aborts.
    execOn(
      lineup.dbPath,
      "CREATE TRIGGER stop_at_gone_4 BEFORE DELETE ON subscribers WHEN OLD.username = 'gone-4' BEGIN SELECT RAISE(ABORT, 'stopped'); END;",
    );
    expect(() => pruneLapsed(lineup!.context.subscribers, () => NOW, 7, { chunkSize: 2 })).toThrow('stopped');
    expect(tables(lineup.dbPath)).toEqual({
      subscribers: ['gone-3', 'gone-4', 'gone-5', 'paying'],
      pruned: ['gone-1', 'gone-2'],
      links: 4,
      removedKeys: 2,
    });
    execOn(lineup.dbPath, 'DROP TRIGGER stop_at_gone_4;');
    const rerun = await lineup.cli(['prune']);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain('deleted 3 subscribers');
    expect(tables(lineup.dbPath)).toEqual({
      subscribers: ['paying'],
      pruned: ['gone-1', 'gone-2', 'gone-3', 'gone-4', 'gone-5'],
      links: 1,
      removedKeys: 5,
    });
  });

  it('when lineup prune runs, then it prints one summary line; with --verbose, a line per subscriber before it', async () => {
    lineup = await lineupWithLapsed();
    const dry = await lineup.cli(['prune', '--dry-run']);
    expect(dry.stdout.trimEnd().split('\n')).toEqual([
      'would delete 5 subscribers (grace 7 days); would purge 0 pruned subscribers (older than PRUNE_KEEP_DAYS, 30 days); would forget 0 retired keys (older than RETIRED_KEY_DAYS, 90 days)',
    ]);
    const quiet = await lineup.cli(['prune']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout.trimEnd().split('\n')).toEqual([
      'deleted 5 subscribers (grace 7 days); purged 0 pruned subscribers (older than PRUNE_KEEP_DAYS, 30 days); forgot 0 retired keys (older than RETIRED_KEY_DAYS, 90 days)',
    ]);
    await addSubscriber(lineup, 'gone-6', '--until', '2001-01-06', '--allow-past');
    const verbose = await lineup.cli(['prune', '--verbose']);
    expect(verbose.stdout.trimEnd().split('\n')).toEqual([
      'deleted gone-6',
      'deleted 1 subscriber (grace 7 days); purged 0 pruned subscribers (older than PRUNE_KEEP_DAYS, 30 days); forgot 0 retired keys (older than RETIRED_KEY_DAYS, 90 days)',
    ]);
  });

  it('when a prune has deleted thousands under a running server, then the write-ahead log is truncated to the one page the prune starts it over with', async () => {
    lineup = await lineupWithLapsed();
    insertSubscribers(lineup.dbPath, 5000, 'bulk-', LONG_AGO);
    // The server's connection stays open, so nothing has removed the log.
    expect(walBytes(lineup.dbPath)).toBeGreaterThan(0);
    const pruned = await lineup.cli(['prune']);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain('deleted 5005 subscribers');
    // Its 32-byte header and one frame (24 bytes and a 4 KB page): the prune's own write after the
    // truncation, which leaves no fsync of the log's header to the server's next write.
    expect(walBytes(lineup.dbPath)).toBe(32 + 24 + 4096);
    expect(tables(lineup.dbPath).subscribers).toEqual(['paying']);
  });
  it('when chunks commit under a running server, then another connection checkpoints none of them, and the prune checkpoints every fourth', async () => {
    lineup = await lineupWithLapsed();
    insertSubscribers(lineup.dbPath, 8000, 'bulk-', LONG_AGO);
    // Another server on the file: its commit's automatic checkpoint would copy the chunks in its event loop.
    const server = new Database(lineup.dbPath);
    try {
      const afterChunk: { walBytes: number; log: number; checkpointed: number }[] = [];
      pruneLapsed(lineup.context.subscribers, () => NOW, 7, {
        chunkSize: 1000,
        onChunk: () => {
          server.prepare("INSERT OR REPLACE INTO settings (name, value) VALUES ('prune-chunks-test', 'x')").run();
          const { log, checkpointed } = (server.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[])[0]!;
          afterChunk.push({ walBytes: walBytes(lineup!.dbPath), log, checkpointed });
        },
      });
      expect(afterChunk).toHaveLength(9);
      // The fourth and eighth chunks' commits ended with the prune's own checkpoint: the log was
      // started over with its one write (a header and a frame), which the server's write follows.
      for (const at of [3, 7]) expect(afterChunk[at]!.walBytes).toBeLessThanOrEqual(32 + 3 * (24 + 4096));
      // Between them the log grows, and the server's checkpoint copies nothing past where the prune held it.
      for (const [from, to] of [
        [0, 2],
        [4, 6],
      ] as const) {
        const held = afterChunk[from]!.checkpointed;
        for (let at = from; at <= to; at++) {
          expect(afterChunk[at]!.checkpointed, `chunk ${at + 1}`).toBe(held);
          expect(afterChunk[at]!.log, `chunk ${at + 1}`).toBeGreaterThan(held + 100);
        }
        expect(afterChunk[to]!.log).toBeGreaterThan(afterChunk[from]!.log);
      }
      // The prune is over: the hold is gone, and a checkpoint copies the whole log.
      const [end] = server.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
      expect(end!.checkpointed).toBe(end!.log);
    } finally {
      server.close();
    }
  });

  it('when a prune is stopped, or a chunk fails, after chunks that are not checkpointed yet, then it checkpoints them and lets go of the log', async () => {
    lineup = await lineupWithLapsed();
    insertSubscribers(lineup.dbPath, 3000, 'bulk-', LONG_AGO);
    let chunks = 0;
    const stopped = pruneLapsed(lineup.context.subscribers, () => NOW, 7, {
      chunkSize: 1000,
      onChunk: () => chunks++,
      stopRequested: () => chunks === 2,
    });
    expect(stopped.stopped).toBe(true);
    expect(stopped.usernames).toHaveLength(2000);
    expect(walBytes(lineup.dbPath)).toBe(32 + 24 + 4096);

    const server = new Database(lineup.dbPath);
    try {
      // The last one the next run would take: its chunk fails after two that committed.
      const last = server
        .prepare("SELECT username FROM subscribers WHERE username <> 'paying' ORDER BY expires_at DESC, id DESC LIMIT 1")
        .pluck()
        .get() as string;
      server.exec(
        `CREATE TRIGGER stop_at_last BEFORE DELETE ON subscribers WHEN OLD.username = '${last}' BEGIN SELECT RAISE(ABORT, 'stopped'); END;`,
      );
      let failedAfter = 0;
      expect(() => pruneLapsed(lineup!.context.subscribers, () => NOW, 7, { chunkSize: 400, onChunk: () => failedAfter++ })).toThrow(
        'stopped',
      );
      expect(failedAfter).toBe(2);
      const [end] = server.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
      expect(end!.checkpointed).toBe(end!.log);
    } finally {
      server.close();
    }
  });
});

describe('a write to subscribers alone', () => {
  it('when another subscriber is renewed, pruned or given a package, then the lineup is not recompiled; when the lineup changes, it is', async () => {
    lineup = await lineupWithLapsed();
    const url = await addSubscriber(lineup, 'watcher', '--days', '30');
    expect((await fetchFrom(url)).status).toBe(200);
    const compilations = () => lineup!.context.lineup.compilations;
    const before = compilations();

    execOn(lineup.dbPath, "UPDATE subscribers SET expires_at = '2099-01-01 00:00:00' WHERE username = 'gone-1';");
    expect((await fetchFrom(url)).status).toBe(200);
    expect((await lineup.cli(['prune'])).code).toBe(0);
    expect((await fetchFrom(url)).status).toBe(200);
    expect((await lineup.cli(['subscriber', 'packages', 'paying', '--remove', 'gold'])).code).toBe(0);
    expect((await fetchFrom(url)).status).toBe(200);
    expect(compilations()).toBe(before);

    execOn(lineup.dbPath, "UPDATE channels SET name = 'One renamed' WHERE stream = 'one';");
    const changed = await fetchFrom(url);
    expect(changed.body).toContain('One renamed');
    expect(compilations()).toBe(before + 1);
  });

  it('when the subscriber itself gains a package, then its ETag and bytes change at once', async () => {
    lineup = await lineupWithLapsed();
    await applySql(
      lineup,
      "INSERT INTO channels (stream, name) VALUES ('gold-only', 'Gold only'); INSERT INTO package_channels SELECT p.id, c.id FROM packages p, channels c WHERE c.stream = 'gold-only';",
    );
    const url = await addSubscriber(lineup, 'upgrader', '--days', '30');
    const first = await fetchFrom(url);
    expect(first.body).not.toContain('Gold only');
    expect((await lineup.cli(['subscriber', 'packages', 'upgrader', '--add', 'gold'])).code).toBe(0);
    const upgraded = await fetchFrom(url, { headers: { 'If-None-Match': first.headers.etag as string } });
    expect(upgraded.status).toBe(200);
    expect(upgraded.body).toContain('Gold only');
  });
});
