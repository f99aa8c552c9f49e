import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { GENERATED_KEY_SETTING } from '../../src/context.js';
import { SIGNING_SETTING } from '../../src/signing-record.js';
import { runCliCaptured, startTestLineup, TEST_KEY, type TestLineup } from '../helpers/lineup.js';
import { applySql, expectAllTokensValid } from './support.js';

const running: TestLineup[] = [];
afterEach(async () => {
  for (const lineup of running.splice(0)) await lineup.close();
});

/** The server as the operator ran it: its key and origin in its own environment. */
async function server(env: NodeJS.ProcessEnv = {}): Promise<TestLineup> {
  const lineup = await startTestLineup({ env: { ORIGIN_URL: 'http://flussonic.example.net', ...env } });
  running.push(lineup);
  const rows = Array.from({ length: 12 }, (_, i) => `('live/ch${i}', 'Channel ${i}', ${i + 1})`);
  await applySql(lineup, `INSERT INTO channels (stream, name, number) VALUES ${rows.join(', ')};`);
  expect((await lineup.cli(['subscriber', 'add', 'alice'])).code).toBe(0);
  return lineup;
}

function setting(lineup: TestLineup, name: string): string | undefined {
  const db = new Database(lineup.dbPath, { readonly: true });
  try {
    return db.prepare('SELECT value FROM settings WHERE name = ?').pluck().get(name) as string | undefined;
  } finally {
    db.close();
  }
}

const render = (env: NodeJS.ProcessEnv) => runCliCaptured(['render', 'alice', '--ip', '203.0.113.7'], env);

describe('commands that sign, beside a server', () => {
  it("when `render` runs with only the server's LINEUP_DB, then it refuses, naming SECURETOKEN_KEY and ORIGIN_URL, and stores no key", async () => {
    const lineup = await server();
    const result = await render({ LINEUP_DB: lineup.dbPath });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^lineup: would sign unlike the server: SECURETOKEN_KEY \(.*\); ORIGIN_URL \(.*\)/);
    expect(result.stderr).toContain('http://flussonic.example.net');
    expect(result.stderr).not.toContain(TEST_KEY);
    expect(setting(lineup, GENERATED_KEY_SETTING)).toBeUndefined();
  });

  it("when `render` runs with the server's environment, then every one of the 12 tokens verifies with the server's key", async () => {
    const lineup = await server();
    const result = await render(lineup.env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const entries = expectAllTokensValid(result.stdout, '203.0.113.7', TEST_KEY);
    expect(entries).toHaveLength(12);
    expect(entries.every((entry) => entry.url.startsWith('http://flussonic.example.net/'))).toBe(true);
  });

  it.each([
    ['IP_BINDING', 'none'],
    ['TOKEN_TTL', '7200'],
    ['TOKEN_DESYNC', '60'],
  ])('when only %s differs (%s), then render refuses naming it and both values', async (variable, value) => {
    const lineup = await server();
    const result = await render({ ...lineup.env, [variable]: value });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^lineup: would sign unlike the server: ${variable} \\(the server's is \\S+, here ${value}\\)`),
    );
    expect(result.stderr).not.toMatch(/SECURETOKEN_KEY \(/);
  });

  it('when the server signs with its generated key, then render without SECURETOKEN_KEY uses that key, and with another one refuses', async () => {
    const lineup = await server({ SECURETOKEN_KEY: '' });
    const generated = setting(lineup, GENERATED_KEY_SETTING)!;
    expect(generated.length).toBeGreaterThanOrEqual(16);
    const { SECURETOKEN_KEY: _unset, ...withoutKey } = lineup.env;
    const borrowed = await render(withoutKey);
    expect(borrowed.code).toBe(0);
    expect(expectAllTokensValid(borrowed.stdout, '203.0.113.7', generated)).toHaveLength(12);
    const other = await render({ ...withoutKey, SECURETOKEN_KEY: 'a-key-of-my-own' });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/SECURETOKEN_KEY \(the server signs with the key it generated; leave SECURETOKEN_KEY unset here\)/);
    expect(other.stderr).not.toContain('a-key-of-my-own');
    expect(other.stderr).not.toContain(generated);
  });

  it('when the server records how it signs, then the record holds the origin in clear and the key in no form that a fast hash finds', async () => {
    const lineup = await server();
    const record = setting(lineup, SIGNING_SETTING)!;
    expect(JSON.parse(record)).toMatchObject({ ORIGIN_URL: 'http://flussonic.example.net', IP_BINDING: 'strict', TOKEN_TTL: 10800 });
    const fastForms = [
      TEST_KEY,
      Buffer.from(TEST_KEY).toString('base64'),
      Buffer.from(TEST_KEY).toString('hex'),
      ...['md5', 'sha1', 'sha256', 'sha512'].flatMap((algorithm) => {
        const digest = createHash(algorithm).update(TEST_KEY).digest();
        return [digest.toString('hex'), digest.toString('base64')];
      }),
    ];
    for (const form of fastForms) expect(record).not.toContain(form);
    expect(record).toMatch(/"SECURETOKEN_KEY":"scrypt:\d+:\d+:\d+:[A-Za-z0-9+/=]{20,}:[A-Za-z0-9+/=]{40,}"/);
  });

  it('when no server has started on the database, then render signs with its own SECURETOKEN_KEY and warns that nothing was compared', async () => {
    const lineup = await server();
    const db = new Database(lineup.dbPath);
    db.prepare('DELETE FROM settings WHERE name = ?').run(SIGNING_SETTING);
    db.close();
    const result = await render({ ...lineup.env, SECURETOKEN_KEY: 'standalone-key', ORIGIN_URL: 'http://elsewhere.test' });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      "lineup: warning: no server has recorded its signing settings in this database yet: signing with this command's own\n",
    );
    expect(expectAllTokensValid(result.stdout, '203.0.113.7', 'standalone-key')).toHaveLength(12);
  });
});
