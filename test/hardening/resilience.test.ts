import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Koa from 'koa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/errors.js';
import { errorHandler } from '../../src/http/error-handler.js';
import { runPruneOnce } from '../../src/jobs/prune-schedule.js';
import { pruneLapsed } from '../../src/subscribers/prune.js';
import { addSubscriber, applySql } from '../core/support.js';
import { captureLogs, fetchFrom, runCliCaptured, startTestLineup, type TestLineup, tempDir } from '../helpers/lineup.js';

describe('an admin transaction holding the database', () => {
  let lineup: TestLineup;
  let aliceUrl: string;
  let admin: Database.Database;

  beforeAll(async () => {
    lineup = await startTestLineup();
    await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1);");
    aliceUrl = await addSubscriber(lineup, 'alice');
    await addSubscriber(lineup, 'carol');
  });
  afterEach(() => {
    if (admin?.inTransaction) admin.exec('ROLLBACK');
    admin?.close();
  });
  afterAll(() => lineup.close());

  it('when a second connection holds BEGIN EXCLUSIVE, then WAL readers are not blocked: playlists keep answering 200', async () => {
    admin = new Database(lineup.dbPath);
    admin.exec("BEGIN EXCLUSIVE; INSERT INTO channels (stream, name, number) VALUES ('two', 'Two', 2);");
    for (let i = 0; i < 5; i++) {
      const response = await fetchFrom(aliceUrl);
      expect(response.status).toBe(200);
      expect(response.body).not.toContain('/two/');
    }
    admin.exec('COMMIT');
    expect((await fetchFrom(aliceUrl)).body).toContain('/two/');
  });

  it('when an admin holds the write lock, then read commands still run, and opening the database commits nothing', async () => {
    const before = lineup.context.db.pragma('data_version', { simple: true });
    admin = new Database(lineup.dbPath);
    admin.exec('BEGIN IMMEDIATE');
    const listed = await lineup.cli(['subscriber', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('alice');
    admin.exec('ROLLBACK');
    expect(lineup.context.db.pragma('data_version', { simple: true })).toBe(before);
  });

  it('when the prune job meets a write lock, then it logs, counts and returns; the next tick deletes', async () => {
    const expire = new Database(lineup.dbPath);
    expire.prepare("UPDATE subscribers SET expires_at = '2000-01-01 00:00:00' WHERE username = ?").run('carol');
    expire.close();
    admin = new Database(lineup.dbPath);
    admin.exec("BEGIN IMMEDIATE; UPDATE channels SET name = 'Uno' WHERE stream = 'one';");
    // The bound is busy_timeout; shortened here so that the test does not wait the full 5 s.
    lineup.context.db.pragma('busy_timeout = 50');
    const { logger, logs } = captureLogs();
    const prune = () => pruneLapsed(lineup.context.subscribers, lineup.context.clock, 7);

    expect(runPruneOnce(prune, logger, lineup.metrics)).toBeUndefined();
    expect(logs.text()).toMatch(/prune failed; retrying on the next tick/);
    expect((await fetchFrom(aliceUrl)).status).toBe(200);

    admin.exec('COMMIT');
    expect(runPruneOnce(prune, logger, lineup.metrics)?.usernames).toEqual(['carol']);
    const metrics = await lineup.metrics.registry.getSingleMetricAsString('lineup_prune_failures_total');
    expect(metrics).toMatch(/lineup_prune_failures_total 1/);
  });
});

describe('SQLITE_BUSY on the request path', () => {
  it('when a request meets a locked database, then 503 with Retry-After and a short reason, and the server lives on', async () => {
    const { dir, cleanup } = tempDir();
    const path = join(dir, 'busy.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE hits (at TEXT)');
    db.pragma('busy_timeout = 50');
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE; INSERT INTO hits VALUES (1);');

    // The real error handler in front of a handler that writes: the one path that can meet the lock.
    const { logger, logs } = captureLogs();
    const app = new Koa();
    app.silent = true;
    app.use(errorHandler(logger));
    app.use((ctx) => {
      db.prepare("INSERT INTO hits VALUES (datetime('now'))").run();
      ctx.body = 'ok';
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    try {
      const busy = await fetchFrom(url);
      expect(busy.status).toBe(503);
      expect(Number(busy.headers['retry-after'])).toBeGreaterThan(0);
      expect(busy.body).toBe('Busy, try again shortly\n');
      expect(logs.text()).toContain('SQLITE_BUSY');
      holder.exec('COMMIT');
      expect((await fetchFrom(url)).status).toBe(200);
    } finally {
      server.close();
      holder.close();
      db.close();
      cleanup();
    }
  });
});

describe('something briefly out of reach (UnavailableError)', () => {
  it("when a scrape cannot get the other workers' metrics, then 503 with Retry-After and the reason", async () => {
    const { logger } = captureLogs();
    const app = new Koa();
    app.silent = true;
    app.use(errorHandler(logger));
    app.use(() => {
      throw new UnavailableError('Metrics are unavailable for a moment; try again');
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const answer = await fetchFrom(`http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`);
      expect(answer.status).toBe(503);
      expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
      expect(answer.body).toBe('Metrics are unavailable for a moment; try again\n');
    } finally {
      server.close();
    }
  });
});

describe('a database that cannot be opened or written at start', () => {
  const scratch = tempDir();
  afterAll(() => scratch.cleanup());

  const listAs = (dbPath: string) => runCliCaptured(['subscriber', 'list'], { LINEUP_DB: dbPath, SECURETOKEN_KEY: 'k' });

  it('when the directory cannot be created, then exit 1 with one line naming LINEUP_DB', async () => {
    const blocker = join(scratch.dir, 'a-file');
    writeFileSync(blocker, '');
    const result = await listAs(join(blocker, 'sub', 'lineup.db'));
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^lineup: LINEUP_DB: cannot open .*a-file\/sub\/lineup\.db/);
  });

  // Root ignores file modes, so the check runs with the effective uid of `nobody` where the test runs as root.
  const asUnprivileged = async <T>(run: () => Promise<T>): Promise<T> => {
    if (process.getuid?.() !== 0) return run();
    process.seteuid!(65534);
    try {
      return await run();
    } finally {
      process.seteuid!(0);
    }
  };

  it('when the file is read-only (already migrated, in a writable directory), then exit 1 with one line naming LINEUP_DB', async () => {
    const dir = join(scratch.dir, 'rw');
    mkdirSync(dir);
    chmodSync(scratch.dir, 0o755);
    chmodSync(dir, 0o777);
    const dbPath = join(dir, 'lineup.db');
    expect((await runCliCaptured(['init'], { LINEUP_DB: dbPath })).code).toBe(0); // creates and migrates it
    chmodSync(dbPath, 0o444);
    const result = await asUnprivileged(() => listAs(dbPath));
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^lineup: LINEUP_DB: .*lineup\.db: attempt to write a readonly database/);
  });

  it('when the directory is read-only and the file new, then exit 1 with one line naming LINEUP_DB', async () => {
    const dir = join(scratch.dir, 'ro');
    mkdirSync(dir, { mode: 0o555 });
    chmodSync(scratch.dir, 0o755);
    const result = await asUnprivileged(() => listAs(join(dir, 'lineup.db')));
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^lineup: LINEUP_DB: cannot open .*ro\/lineup\.db/);
  });

  it('when the server is started on such a database, then startLineup fails with the same clear error', async () => {
    const { startLineup } = await import('../../src/standalone.js');
    const { loadConfig } = await import('../../src/config.js');
    const blocker = join(scratch.dir, 'a-file');
    const config = loadConfig({ LINEUP_DB: join(blocker, 'x.db'), PORT: '0', HOST: '127.0.0.1', SECURETOKEN_KEY: 'k' });
    await expect(startLineup(config, { logger: captureLogs().logger })).rejects.toThrow(/^LINEUP_DB: cannot open/);
  });
});
