import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startLineup } from '../../src/standalone.js';
import { LINEUP_BIN } from '../build-once.js';
import { addSubscriber, applySql } from '../core/support.js';
import { serveCommandLine } from '../helpers/command-line.js';
import { captureLogs, fetchFrom, lastLine, runCliCaptured, startTestLineup, type TestLineup, tempDir } from '../helpers/lineup.js';

const usernames = (dbPath: string): string[] => {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT username FROM subscribers ORDER BY username').pluck().all() as string[];
  } finally {
    db.close();
  }
};

describe('lineup db backup and restore', () => {
  let lineup: TestLineup | undefined;
  afterEach(async () => {
    await lineup?.close();
    lineup = undefined;
  });

  it('when a backup is taken while the server serves and an admin transaction is open, then the copy is sound and holds exactly what was committed', async () => {
    lineup = await startTestLineup();
    await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1), ('two', 'Two', 2);");
    const aliceUrl = await addSubscriber(lineup, 'alice');
    await addSubscriber(lineup, 'bob');
    // Committed but not checkpointed: it lives in the WAL, which a cp of the file alone leaves behind.
    expect(existsSync(`${lineup.dbPath}-wal`)).toBe(true);
    const admin = new Database(lineup.dbPath);
    admin.exec("BEGIN IMMEDIATE; INSERT INTO channels (stream, name, number) VALUES ('uncommitted', 'U', 3);");
    try {
      const backupFile = join(lineup.dir, 'backup.db');
      const [result, playlist] = await Promise.all([lineup.cli(['db', 'backup', backupFile]), fetchFrom(aliceUrl)]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`Backed up to ${backupFile}: 2 subscribers, 2 channels\n`);
      expect(playlist.status).toBe(200);

      const copy = new Database(backupFile, { readonly: true });
      try {
        expect(copy.pragma('quick_check', { simple: true })).toBe('ok');
        expect(copy.prepare('SELECT stream FROM channels ORDER BY number').pluck().all()).toEqual(['one', 'two']);
      } finally {
        copy.close();
      }
      expect(usernames(backupFile)).toEqual(['alice', 'bob']);
      expect(existsSync(`${backupFile}.partial-${process.pid}`)).toBe(false);
    } finally {
      admin.exec('ROLLBACK');
      admin.close();
    }
  });

  it('when restore is asked while the server has the database open, then it is refused with one line and the database is untouched', async () => {
    lineup = await startTestLineup();
    await addSubscriber(lineup, 'alice');
    const backupFile = join(lineup.dir, 'backup.db');
    expect((await lineup.cli(['db', 'backup', backupFile])).code).toBe(0);
    await addSubscriber(lineup, 'bob');

    const result = await lineup.cli(['db', 'restore', backupFile]);
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(new RegExp(`^lineup: a server \\(pid ${process.pid}\\) has LINEUP_DB open .*lineup\\.db\\.lock`));
    expect(usernames(lineup.dbPath)).toEqual(['alice', 'bob']);
    expect((await fetchFrom(`${lineup.url}/healthz`)).status).toBe(200);
  });

  it('when restore is asked while a WORKERS=2 cluster serves the database, then it is refused naming the primary, and goes ahead once the cluster has stopped', async () => {
    const { dir, cleanup } = tempDir();
    const children: ChildProcess[] = [];
    onTestFinished(() => {
      for (const child of children) child.kill('SIGKILL');
      cleanup();
    });
    const dbPath = join(dir, 'lineup.db');
    const env = { LINEUP_DB: dbPath, HOST: '127.0.0.1', PORT: '0', SECURETOKEN_KEY: 'restore-lock-key', WORKERS: '2', PRUNE_CRON: 'off' };
    const cluster = await serveCommandLine(['node', LINEUP_BIN, 'serve'], env, children);
    const alice = new URL(lastLine((await runCliCaptured(['subscriber', 'add', 'alice'], env)).stdout)).pathname;
    const backupFile = join(dir, 'backup.db');
    expect((await runCliCaptured(['db', 'backup', backupFile], env)).code).toBe(0);
    expect((await runCliCaptured(['subscriber', 'add', 'bob'], env)).code).toBe(0);

    // The primary holds the lock; its workers, which serve, have the file open as long as it runs.
    const refused = await runCliCaptured(['db', 'restore', backupFile], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(new RegExp(`^lineup: a server \\(pid ${cluster.child.pid}\\) has LINEUP_DB open .*lineup\\.db\\.lock`));
    expect(usernames(dbPath)).toEqual(['alice', 'bob']);
    for (let i = 0; i < 4; i++) expect((await fetchFrom(`${cluster.url}${alice}`)).status).toBe(200);

    cluster.child.kill('SIGTERM');
    expect(await cluster.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(`${dbPath}.lock`)).toBe(false);
    const restored = await runCliCaptured(['db', 'restore', backupFile], env);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(usernames(dbPath)).toEqual(['alice']);
  }, 60_000);

  it('when restore runs with the server stopped, then the next start serves the backup: its subscribers back, later changes gone, the old file kept', async () => {
    lineup = await startTestLineup();
    await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1);");
    const aliceUrl = await addSubscriber(lineup, 'alice');
    const backupFile = join(lineup.dir, 'backup.db');
    expect((await lineup.cli(['db', 'backup', backupFile])).code).toBe(0);
    expect((await lineup.cli(['subscriber', 'remove', 'alice'])).code).toBe(0);
    await addSubscriber(lineup, 'mallory');
    expect((await fetchFrom(aliceUrl)).status).toBe(410);
    await lineup.stop();
    expect(existsSync(`${lineup.dbPath}.lock`)).toBe(false);

    const result = await runCliCaptured(['db', 'restore', backupFile], lineup.env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Restored ${backupFile} to ${lineup.dbPath}: 1 subscriber, 1 channel\n`);
    expect(result.stdout).toContain(`kept as ${lineup.dbPath}.before-restore`);
    expect(usernames(`${lineup.dbPath}.before-restore`)).toEqual(['mallory']);

    const again = await startLineup(loadConfig(lineup.env), { logger: captureLogs().logger });
    try {
      const playlist = await fetchFrom(`${again.url}${new URL(aliceUrl).pathname}`);
      expect(playlist.status).toBe(200);
      expect(playlist.body).toContain('/one/');
      expect(usernames(lineup.dbPath)).toEqual(['alice']);
    } finally {
      await again.stop();
    }
  });

  it('when the lock was left by a server killed with -9 (its pid gone), then restore goes ahead', async () => {
    lineup = await startTestLineup();
    await addSubscriber(lineup, 'alice');
    const backupFile = join(lineup.dir, 'backup.db');
    expect((await lineup.cli(['db', 'backup', backupFile])).code).toBe(0);
    await lineup.stop();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(`${lineup.dbPath}.lock`, `${dead}\n`);

    const result = await runCliCaptured(['db', 'restore', backupFile], lineup.env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(usernames(lineup.dbPath)).toEqual(['alice']);
  });

  it('when FILE is not a Lineup database, then restore refuses it with one line and the database is untouched', async () => {
    lineup = await startTestLineup();
    await addSubscriber(lineup, 'alice');
    await lineup.stop();
    const foreign = join(lineup.dir, 'foreign.db');
    const db = new Database(foreign);
    db.exec('CREATE TABLE notes (body TEXT)');
    db.close();
    const empty = join(lineup.dir, 'empty.db');
    writeFileSync(empty, '');

    for (const [file, reason] of [
      [foreign, /foreign\.db is an SQLite database but not Lineup's/],
      [empty, /empty\.db is an empty file/],
      [join(lineup.dir, 'missing.db'), /missing\.db: no such file/],
    ] as const) {
      const result = await runCliCaptured(['db', 'restore', file], lineup.env);
      expect(result.code).toBe(1);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(reason);
    }
    expect(usernames(lineup.dbPath)).toEqual(['alice']);
    rmSync(foreign);
  });

  it('when the backup was written by a newer Lineup (a higher schema version), then restore refuses it with one line and the database stays in place', async () => {
    lineup = await startTestLineup();
    await addSubscriber(lineup, 'alice');
    const backupFile = join(lineup.dir, 'future.db');
    expect((await lineup.cli(['db', 'backup', backupFile])).code).toBe(0);
    await lineup.stop();
    const future = new Database(backupFile);
    const version = future.pragma('user_version', { simple: true }) as number;
    future.pragma(`user_version = ${version + 1}`);
    future.prepare("DELETE FROM subscribers WHERE username = 'alice'").run();
    future.close();

    const result = await runCliCaptured(['db', 'restore', backupFile], lineup.env);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `lineup: ${backupFile} has schema version ${version + 1}, newer than this Lineup's ${version}: restore it with the Lineup release that wrote it\n`,
    );
    expect(usernames(lineup.dbPath)).toEqual(['alice']);
    expect(existsSync(`${lineup.dbPath}.before-restore`)).toBe(false);
  });
});
