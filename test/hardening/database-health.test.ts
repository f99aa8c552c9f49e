import { closeSync, copyFileSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { databaseHealth } from '../../src/db/database-health.js';
import { LineupStore } from '../../src/db/lineup-store.js';
import { startLineup } from '../../src/standalone.js';
import { addSubscriber, applySql } from '../core/support.js';
import { captureLogs, execOn, fetchFrom, runCliCaptured, startTestLineup, type TestLineup, tempDir } from '../helpers/lineup.js';

/** 64 bytes of 0xFF over the start of the channels table's root page, after a checkpoint, as a bad disk would. */
function corruptChannelsRootPage(dbPath: string): void {
  const db = new Database(dbPath);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const rootPage = db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'channels'").pluck().get() as number;
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.close();
  const fd = openSync(dbPath, 'r+');
  writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, (rootPage - 1) * pageSize);
  closeSync(fd);
}

/**
 * A lineup change committed by another connection (a package: the channels page is the damaged
 * one): the server's next request reads the lineup again. A write to a table that playlists do not
 * read (settings) would leave the compiled lineup in use, and only /healthz would read it again.
 */
function touchFromOutside(dbPath: string): void {
  const db = new Database(dbPath);
  db.prepare("INSERT OR REPLACE INTO packages (name) VALUES ('touched')").run();
  db.close();
}

const health = async (lineup: TestLineup) => {
  const response = await fetchFrom(`${lineup.url}/healthz`);
  return { status: response.status, body: JSON.parse(response.body) as Record<string, unknown>, raw: response.body };
};

describe('/healthz on a database that cannot serve', () => {
  let lineup: TestLineup | undefined;
  afterEach(async () => {
    await lineup?.close();
    lineup = undefined;
  });

  it("when the channels table's root page is garbage, then /healthz and the playlist answer 503, never 500; the next start is refused", async () => {
    lineup = await startTestLineup();
    await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1);");
    const url = await addSubscriber(lineup, 'alice');
    expect((await fetchFrom(url)).status).toBe(200);
    expect((await health(lineup)).status).toBe(200);

    corruptChannelsRootPage(lineup.dbPath);
    // Any write at all, here to settings, makes /healthz read the lineup again.
    execOn(lineup.dbPath, "INSERT OR REPLACE INTO settings (name, value) VALUES ('touched', 'yes')");

    const checked = await health(lineup);
    expect(checked.status).toBe(503);
    expect(checked.body).toMatchObject({ status: 'unavailable', check: 'lineup', reason: 'the lineup cannot be read' });
    expect(checked.raw).not.toContain(lineup.dir);
    touchFromOutside(lineup.dbPath);
    const playlist = await fetchFrom(url);
    expect(playlist.status).toBe(503);
    expect(playlist.body).toBe('Database unavailable\n');
    expect(lineup.logs.text()).toMatch(/SQLITE_CORRUPT/);

    await lineup.stop();
    const restart = await runCliCaptured(['init'], { LINEUP_DB: lineup.dbPath });
    expect(restart.code).toBe(1);
    expect(restart.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(restart.stderr).toMatch(/^lineup: LINEUP_DB: .*lineup\.db is damaged \(quick_check: /);
  });

  it('when the database file is deleted under the running server, then /healthz answers 503 "database file replaced or deleted"', async () => {
    lineup = await startTestLineup();
    expect((await health(lineup)).status).toBe(200);
    unlinkSync(lineup.dbPath);
    const checked = await health(lineup);
    expect(checked.status).toBe(503);
    expect(checked.body).toMatchObject({ check: 'file', reason: 'database file replaced or deleted' });
  });

  it('when the database file is replaced by a copy (cp and mv over it), then /healthz answers 503 naming the file', async () => {
    lineup = await startTestLineup();
    const copy = join(lineup.dir, 'copy.db');
    copyFileSync(lineup.dbPath, copy);
    renameSync(copy, lineup.dbPath);
    const checked = await health(lineup);
    expect(checked.status).toBe(503);
    expect(checked.body).toMatchObject({ check: 'file' });
  });
});

describe('the write probe of /healthz', () => {
  const scratch = tempDir();
  afterAll(() => scratch.cleanup());

  it('when the connection cannot write, then the write check fails, and its answer is kept for the probe interval', async () => {
    const dbPath = join(scratch.dir, 'probe.db');
    expect((await runCliCaptured(['init'], { LINEUP_DB: dbPath })).code).toBe(0);
    const readOnly = new Database(dbPath, { readonly: true });
    const writable = new Database(dbPath);
    let now = 0;
    try {
      const check = databaseHealth(readOnly, dbPath, new LineupStore(readOnly), { writeProbeMs: 1000, now: () => now });
      expect(check()).toEqual({ check: 'write', reason: 'the database cannot be written' });
      const fine = databaseHealth(writable, dbPath, new LineupStore(writable), { writeProbeMs: 1000, now: () => now });
      expect(fine()).toBeUndefined();
      // A probe takes the write lock: within the interval the answer is the cached one, not a new probe.
      writable.pragma('query_only = ON');
      now = 999;
      expect(fine()).toBeUndefined();
      now = 1000;
      expect(fine()).toMatchObject({ check: 'write' });
    } finally {
      readOnly.close();
      writable.close();
    }
  });
});

describe('a database file refused at start', () => {
  const scratch = tempDir();
  afterAll(() => scratch.cleanup());

  it('when LINEUP_DB is a zero-length file, then init and the server refuse it with one line, and it stays empty', async () => {
    const dbPath = join(scratch.dir, 'empty.db');
    writeFileSync(dbPath, '');
    const init = await runCliCaptured(['init'], { LINEUP_DB: dbPath });
    expect(init.code).toBe(1);
    expect(init.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(init.stderr).toMatch(/^lineup: LINEUP_DB: .*empty\.db is an empty file \(0 bytes\), not a Lineup database/);
    const config = loadConfig({ LINEUP_DB: dbPath, PORT: '0', HOST: '127.0.0.1', SECURETOKEN_KEY: 'k' });
    await expect(startLineup(config, { logger: captureLogs().logger, seedDemo: true })).rejects.toThrow(/^LINEUP_DB: .* is an empty file/);
    const list = await runCliCaptured(['subscriber', 'list'], { LINEUP_DB: dbPath, SECURETOKEN_KEY: 'k' });
    expect(list.code).toBe(1);
    expect(readFileSync(dbPath).length).toBe(0);
  });

  it("when LINEUP_DB is another program's SQLite database, then it is refused with one line and left untouched", async () => {
    const dbPath = join(scratch.dir, 'foreign.db');
    const foreign = new Database(dbPath);
    foreign.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');");
    foreign.close();
    const init = await runCliCaptured(['init'], { LINEUP_DB: dbPath });
    expect(init.code).toBe(1);
    expect(init.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(init.stderr).toMatch(/^lineup: LINEUP_DB: .*foreign\.db is an SQLite database but not Lineup's/);
    const after = new Database(dbPath, { readonly: true });
    expect(after.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all()).toEqual(['notes']);
    after.close();
  });

  it('when LINEUP_DB is not an SQLite file at all, then it is refused with one line', async () => {
    const dbPath = join(scratch.dir, 'text.db');
    writeFileSync(dbPath, 'this is not a database, just some text that is long enough to have a header\n'.repeat(20));
    const init = await runCliCaptured(['init'], { LINEUP_DB: dbPath });
    expect(init.code).toBe(1);
    expect(init.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(init.stderr).toMatch(/^lineup: LINEUP_DB: cannot open .*text\.db: file is not a database/);
  });
});
