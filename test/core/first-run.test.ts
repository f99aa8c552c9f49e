import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { GENERATED_KEY_SETTING } from '../../src/context.js';
import { startLineup } from '../../src/standalone.js';
import { captureLogs, fetchFrom, lastLine, onServer, runCliCaptured, TEST_KEY, tempDir } from '../helpers/lineup.js';
import { serveProcess } from '../helpers/serve-process.js';
import { expectAllTokensValid } from './support.js';

const cleanups: (() => unknown)[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function fixture() {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const env: NodeJS.ProcessEnv = {
    LINEUP_DB: join(dir, 'lineup.db'),
    HOST: '127.0.0.1',
    PORT: '0',
    PUBLIC_URL: 'http://lineup.test',
    PRUNE_CRON: 'off',
  };
  const start = async (extra: NodeJS.ProcessEnv = {}) => {
    const { logger, logs } = captureLogs();
    const lineup = await startLineup(loadConfig({ ...env, ...extra }), { logger, seedDemo: true });
    cleanups.push(() => lineup.stop());
    return { lineup, logs };
  };
  const count = (sql: string) => {
    const db = new Database(env.LINEUP_DB!, { readonly: true });
    try {
      return db.prepare(sql).pluck().get() as number;
    } finally {
      db.close();
    }
  };
  return { env, start, count };
}

describe('first run', () => {
  it('when the database is empty, then a demo lineup and subscriber are seeded and the demo URL serves ≥3 verified channels', async () => {
    const { start, count } = fixture();
    const { lineup } = await start({ SECURETOKEN_KEY: TEST_KEY });
    expect(lineup.demoUrl).toMatch(/^http:\/\/lineup\.test\/playlist\/[A-Za-z0-9_-]+\.m3u$/);
    expect(count('SELECT count(*) FROM channels')).toBeGreaterThanOrEqual(3);
    expect(count("SELECT count(*) FROM subscribers WHERE username = 'demo'")).toBe(1);
    const response = await fetchFrom(onServer(lineup, lineup.demoUrl!));
    expect(response.status).toBe(200);
    expect(expectAllTokensValid(response.body, '127.0.0.1').length).toBeGreaterThanOrEqual(3);
  });

  it('when started a second time on the same database, then nothing is seeded again', async () => {
    const { start, count } = fixture();
    const first = await start({ SECURETOKEN_KEY: TEST_KEY });
    const channels = count('SELECT count(*) FROM channels');
    await first.lineup.stop();
    const second = await start({ SECURETOKEN_KEY: TEST_KEY });
    expect(second.lineup.demoUrl).toBeUndefined();
    expect(count('SELECT count(*) FROM channels')).toBe(channels);
    expect(count('SELECT count(*) FROM subscribers')).toBe(1);
    // the first demo URL still works
    expect((await fetchFrom(onServer(second.lineup, first.lineup.demoUrl!))).status).toBe(200);
  });

  it('when the operator deleted the demo rows, then a restart does not seed them back', async () => {
    const { start, count, env } = fixture();
    const first = await start({ SECURETOKEN_KEY: TEST_KEY });
    await first.lineup.stop();
    const db = new Database(env.LINEUP_DB!);
    db.exec('DELETE FROM subscribers; DELETE FROM channels;');
    db.close();
    const second = await start({ SECURETOKEN_KEY: TEST_KEY });
    expect(second.lineup.demoUrl).toBeUndefined();
    expect(count('SELECT count(*) FROM channels')).toBe(0);
  });

  it('when the database already holds data, then it is never seeded', async () => {
    const { start, count, env } = fixture();
    const sql = join(env.LINEUP_DB!, '..', 'mine.sql');
    (await import('node:fs')).writeFileSync(sql, "INSERT INTO channels (stream, name) VALUES ('mine', 'Mine');");
    expect((await runCliCaptured(['init'], env)).code).toBe(0);
    expect((await runCliCaptured(['sql', sql], { ...env, SECURETOKEN_KEY: TEST_KEY })).code).toBe(0);
    const { lineup } = await start({ SECURETOKEN_KEY: TEST_KEY });
    expect(lineup.demoUrl).toBeUndefined();
    expect(count('SELECT count(*) FROM channels')).toBe(1);
    expect(count('SELECT count(*) FROM subscribers')).toBe(0);
  });
});

describe('a generated securetoken key', () => {
  it('when SECURETOKEN_KEY is unset, then a key is generated once, stored in settings, reused on restart, and never logged', async () => {
    const { start, count, env } = fixture();
    const first = await start();
    const storedKey = () => {
      const db = new Database(env.LINEUP_DB!, { readonly: true });
      try {
        return db.prepare('SELECT value FROM settings WHERE name = ?').pluck().get(GENERATED_KEY_SETTING) as string;
      } finally {
        db.close();
      }
    };
    const key = storedKey();
    expect(key.length).toBeGreaterThanOrEqual(16);
    const warnings = first.logs.lines.filter((line) => line.includes('SECURETOKEN_KEY'));
    expect(warnings.length).toBe(1);
    expect(first.logs.text()).not.toContain(key);
    const demoUrl = first.lineup.demoUrl!;
    expectAllTokensValid((await fetchFrom(onServer(first.lineup, demoUrl))).body, '127.0.0.1', key);
    await first.lineup.stop();

    const second = await start();
    expect(storedKey()).toBe(key);
    expect(count(`SELECT count(*) FROM settings WHERE name = '${GENERATED_KEY_SETTING}'`)).toBe(1);
    expect(second.logs.text()).not.toContain(key);
    expectAllTokensValid((await fetchFrom(onServer(second.lineup, demoUrl))).body, '127.0.0.1', key);
  });

  it('when SECURETOKEN_KEY is set, then no key is generated or stored', async () => {
    const { start, count } = fixture();
    const { logs } = await start({ SECURETOKEN_KEY: TEST_KEY });
    expect(count(`SELECT count(*) FROM settings WHERE name = '${GENERATED_KEY_SETTING}'`)).toBe(0);
    expect(logs.text()).not.toContain(TEST_KEY);
  });

  it('when admin commands run without SECURETOKEN_KEY beside a server that generated one, then they store nothing, and render signs with its key', async () => {
    const { env, count, start } = fixture();
    await start();
    const settingsBefore = count('SELECT count(*) FROM settings');
    const sql = join(env.LINEUP_DB!, '..', 'one.sql');
    (await import('node:fs')).writeFileSync(sql, "INSERT INTO channels (stream, name) VALUES ('one', 'One');");
    const applied = await runCliCaptured(['sql', sql], env);
    const added = await runCliCaptured(['subscriber', 'add', 'alice'], env);
    expect(applied.code + added.code).toBe(0);
    expect(applied.stderr + added.stderr).not.toContain('SECURETOKEN_KEY');

    const rendered = await runCliCaptured(['render', 'alice', '--ip', '10.0.0.1'], env);
    expect(rendered.code).toBe(0);
    expect(count('SELECT count(*) FROM settings')).toBe(settingsBefore);
    const db = new Database(env.LINEUP_DB!, { readonly: true });
    const key = db.prepare('SELECT value FROM settings WHERE name = ?').pluck().get(GENERATED_KEY_SETTING) as string;
    db.close();
    expect(rendered.stderr).not.toContain(key);
    expectAllTokensValid(rendered.stdout, '10.0.0.1', key);
  });

  it('when no server has generated a key and SECURETOKEN_KEY is unset, then render refuses in one line and no key is stored', async () => {
    const { env, count } = fixture();
    expect((await runCliCaptured(['init'], env)).code).toBe(0);
    expect((await runCliCaptured(['subscriber', 'add', 'alice'], env)).code).toBe(0);
    const rendered = await runCliCaptured(['render', 'alice', '--ip', '10.0.0.1'], env);
    expect(rendered.code).toBe(1);
    expect(rendered.stdout).toBe('');
    expect(rendered.stderr).toMatch(/^lineup: SECURETOKEN_KEY is not set, and no server has generated a key in this database yet[^\n]*\n$/);
    expect(count(`SELECT count(*) FROM settings WHERE name = '${GENERATED_KEY_SETTING}'`)).toBe(0);
  });

  it('when `lineup serve` first starts without SECURETOKEN_KEY, then one line warns about the generated key, not two', async () => {
    const { env } = fixture();
    const served = await serveProcess({ ...env, LOG_LEVEL: 'info' }, children);
    const warnings = () =>
      served
        .output()
        .split('\n')
        .filter((line) => line.includes('SECURETOKEN_KEY'));
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toContain('generated a random key');
    served.child.kill('SIGTERM');
    await served.exited;
    const again = await serveProcess({ ...env, LOG_LEVEL: 'info' }, children);
    const later = again
      .output()
      .split('\n')
      .filter((line) => line.includes('SECURETOKEN_KEY'));
    expect(later).toHaveLength(1);
    expect(later[0]).toContain('signing with the generated key');
  });
});

describe('URLs printed by admin commands', () => {
  it('when the server runs on PORT=N without PUBLIC_URL, then `subscriber add` run without PORT prints a URL on port N', async () => {
    const { env } = fixture();
    const { PUBLIC_URL: _unset, ...withoutPublicUrl } = env;
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const { logger } = captureLogs();
    const lineup = await startLineup(loadConfig({ ...withoutPublicUrl, PORT: String(port), SECURETOKEN_KEY: TEST_KEY }), {
      logger,
      seedDemo: true,
    });
    cleanups.push(() => lineup.stop());
    expect(lineup.demoUrl).toMatch(new RegExp(`^http://localhost:${port}/playlist/`));

    const { PORT: _noPort, ...cliEnv } = withoutPublicUrl;
    const added = await runCliCaptured(['subscriber', 'add', 'alice', '--days', '30'], cliEnv);
    expect(added.code).toBe(0);
    const url = lastLine(added.stdout);
    expect(url).toMatch(new RegExp(`^http://localhost:${port}/playlist/`));
    const response = await fetchFrom(url.replace('localhost', '127.0.0.1'));
    expect(response.status).toBe(200);
    expectAllTokensValid(response.body, '127.0.0.1');
  });

  it('when PUBLIC_URL is set for the command, then it wins over the URL the server announced', async () => {
    const { env } = fixture();
    const { logger } = captureLogs();
    const lineup = await startLineup(loadConfig({ ...env, PUBLIC_URL: 'http://served.test', SECURETOKEN_KEY: TEST_KEY }), {
      logger,
      seedDemo: false,
    });
    cleanups.push(() => lineup.stop());
    const added = await runCliCaptured(['subscriber', 'add', 'bob'], { ...env, PUBLIC_URL: 'https://iptv.example.com' });
    expect(lastLine(added.stdout)).toMatch(/^https:\/\/iptv\.example\.com\/playlist\//);
  });
});
