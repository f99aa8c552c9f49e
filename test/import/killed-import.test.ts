import { spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrations.js';
import { LINEUP_BIN } from '../build-once.js';
import { runCliCaptured, tempDir } from '../helpers/lineup.js';
import { bigM3u } from './big-m3u.js';

const ENTRIES = 60_000;
const temp = tempDir('lineup-kill-');
const dbPath = join(temp.dir, 'lineup.db');
const env = { ...process.env, LINEUP_DB: dbPath, SECURETOKEN_KEY: 'kill-test-key', LOG_LEVEL: 'silent' };

function snapshot() {
  const db = new Database(dbPath, { readonly: true });
  try {
    return {
      channels: db.prepare('SELECT * FROM channels ORDER BY id').all(),
      imports: db.prepare('SELECT * FROM channel_imports ORDER BY channel_id').all(),
      integrity: db.pragma('integrity_check', { simple: true }),
    };
  } finally {
    db.close();
  }
}

const walSize = () => {
  try {
    return statSync(`${dbPath}-wal`).size;
  } catch {
    return 0;
  }
};

afterAll(() => temp.cleanup());

it('when an import is killed with SIGKILL in the middle, then the database is as it was before', async () => {
  const small = join(temp.dir, 'small.m3u');
  writeFileSync(small, '#EXTM3U\n#EXTINF:-1 tvg-chno="1",Before\nhttp://fl/before/index.m3u8\n');
  // The server creates the database; an admin command only opens one that exists.
  const created = new Database(dbPath);
  migrate(created);
  created.close();
  expect((await runCliCaptured(['import', small], env)).code).toBe(0);
  const before = snapshot();
  expect(before.channels).toHaveLength(1);
  expect(walSize()).toBe(0); // the last connection closed and checkpointed

  const big = join(temp.dir, 'big.m3u');
  writeFileSync(big, bigM3u(ENTRIES));
  const child = spawn(process.execPath, [LINEUP_BIN, 'import', big], { env, stdio: 'ignore' });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );

  // The transaction outgrows SQLite's page cache and spills uncommitted pages into the WAL long
  // before it commits; the first bytes there mean the import is under way. Polled without
  // yielding, so that the kill lands within microseconds of seeing them.
  const deadline = Date.now() + 60_000;
  while (walSize() === 0 && Date.now() < deadline) {
    /* spin */
  }
  child.kill('SIGKILL');
  const { code, signal } = await exited;
  expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });

  expect(snapshot()).toEqual(before);
}, 90_000);
