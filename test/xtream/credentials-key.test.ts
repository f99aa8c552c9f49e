import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openContext } from '../../src/context.js';
import { loadCredentialSeal } from '../../src/credentials-key.js';
import { runCliCaptured, TEST_KEY, tempDir } from '../helpers/lineup.js';

let cleanup = () => {};
afterEach(() => cleanup());

function setUp() {
  const temp = tempDir();
  cleanup = temp.cleanup;
  const env = { LINEUP_DB: join(temp.dir, 'lineup.db'), SECURETOKEN_KEY: TEST_KEY, PUBLIC_URL: 'http://lineup.test' };
  return { dir: temp.dir, env, keyFile: `${env.LINEUP_DB}.key`, serverStart: () => openContext(loadConfig(env), {}).close() };
}

describe('the credentials key (CREDENTIALS_KEY_FILE)', () => {
  it('when the server first starts, then it creates LINEUP_DB.key, 64 hex digits readable by its owner only', () => {
    const { keyFile, serverStart } = setUp();
    serverStart();
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    expect(statSync(keyFile).mode & 0o077).toBe(0);
  });

  it('when the key file is gone but the database holds credentials sealed with it, then the start is refused naming the variable and the file', async () => {
    const { env, keyFile, serverStart } = setUp();
    serverStart();
    expect((await runCliCaptured(['subscriber', 'add', 'alice'], env)).code).toBe(0);
    rmSync(keyFile);
    expect(serverStart).toThrow(/^CREDENTIALS_KEY_FILE: .*lineup\.db\.key is missing/);
    expect(existsSync(keyFile)).toBe(false);
  });

  it('when the key file holds another key, then the start is refused, and so is a command that reveals', async () => {
    const { env, keyFile, serverStart } = setUp();
    serverStart();
    expect((await runCliCaptured(['subscriber', 'add', 'alice'], env)).code).toBe(0);
    writeFileSync(keyFile, `${'ab'.repeat(32)}\n`);
    expect(serverStart).toThrow(/holds another key/);
    const revealed = await runCliCaptured(['subscriber', 'show', 'alice', '--reveal'], env);
    expect(revealed.code).not.toBe(0);
    expect(revealed.stderr).toMatch(/CREDENTIALS_KEY_FILE/);
  });

  it('when CREDENTIALS_KEY_FILE points elsewhere, then the key lives there and not beside the database', () => {
    const { dir, env } = setUp();
    const elsewhere = join(dir, 'secrets', 'xc.key');
    openContext(loadConfig({ ...env, CREDENTIALS_KEY_FILE: elsewhere }), {}).close();
    expect(existsSync(elsewhere)).toBe(true);
    expect(existsSync(`${env.LINEUP_DB}.key`)).toBe(false);
  });

  it('when another process (a thread here) reads the key file while it is being created, then it finds no file or the whole key, never a part', async () => {
    const { dir } = setUp();
    const KEYS = 300;
    // [key being created, reads done, files read part-written]
    const shared = new Int32Array(new SharedArrayBuffer(12));
    const reader = new Worker(
      `const { readFileSync } = require('node:fs');
       const { workerData: { dir, shared } } = require('node:worker_threads');
       for (let at; (at = Atomics.load(shared, 0)) >= 0; ) {
         let text;
         try { text = readFileSync(dir + '/key-' + at, 'utf8'); } catch { continue; }
         Atomics.add(shared, 1, 1);
         if (!/^[0-9a-f]{64}\\n$/.test(text)) Atomics.add(shared, 2, 1);
       }`,
      { eval: true, workerData: { dir, shared } },
    );
    // Each key as for a new database, which holds no check of a key yet.
    const newDatabase = { get: () => undefined, getOrCreate: (_name: string, create: () => string) => ({ value: create() }) };
    for (let key = 0; key < KEYS; key++) {
      Atomics.store(shared, 0, key);
      loadCredentialSeal(join(dir, `key-${key}`), newDatabase);
    }
    Atomics.store(shared, 0, -1);
    await new Promise((resolve) => reader.once('exit', resolve));
    expect(shared[1]).toBeGreaterThan(0);
    expect(shared[2]).toBe(0);
    // Nothing left beside the keys: each draft is linked into place, then removed.
    expect(readdirSync(dir).filter((name) => name.startsWith('key-')).length).toBe(KEYS);
    expect(readdirSync(dir).some((name) => name.endsWith('.tmp'))).toBe(false);
  });
});
