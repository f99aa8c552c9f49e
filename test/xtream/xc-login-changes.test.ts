import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { SubscriberStore } from '../../src/db/subscriber-store.js';
import { type ApiLineup, startApiLineup } from '../api/api-client.js';
import { applySql } from '../core/support.js';
import { fetchFrom } from '../helpers/lineup.js';
import { addXcSubscriber } from './support.js';

const START = Date.parse('2026-12-03T12:00:00Z') / 1000;
const NAMES = ['alice', 'bob', 'carol'];

let lineup: ApiLineup | undefined;
afterEach(async () => {
  await lineup?.close();
  lineup = undefined;
});

/**
 * A real server on 127.0.0.1:0 over a real SQLite file, with three XC lines, and counts of what a
 * login costs: the username lookups its store is asked, and the keyed hashes of a password.
 */
async function start(env: NodeJS.ProcessEnv = {}) {
  let now = START;
  const running = await startApiLineup({ clock: () => now, env: { GUESS_LIMIT: '1000', ...env } });
  lineup = running;
  await applySql(running, "INSERT INTO channels (stream, name, number) VALUES ('news', 'News', 1);");
  const channel = running.context.db.prepare('SELECT id FROM channels').pluck().get() as number;
  const passwords = new Map<string, string>();
  for (const name of NAMES) passwords.set(name, (await addXcSubscriber(running, name, '--until', '2027-01-01')).password);

  const store = running.context.subscribers;
  const findXcLogin = store.findXcLogin.bind(store);
  let asked: string[] = [];
  store.findXcLogin = (username) => {
    asked.push(username);
    return findXcLogin(username);
  };
  const seal = running.context.credentialSeal();
  const passwordMatches = seal.passwordMatches.bind(seal);
  let hashes = 0;
  seal.passwordMatches = (password, stored) => {
    hashes++;
    return passwordMatches(password, stored);
  };

  const live = async (name: string, password = passwords.get(name)!) =>
    (await fetchFrom(`${running.url}/live/${name}/${password}/${channel}.ts`)).status;
  /** What logins cost since the last call: who was looked up, how many passwords were hashed. */
  const cost = () => {
    const spent = { looked: asked, hashes };
    asked = [];
    hashes = 0;
    return spent;
  };
  /** Each line's next zap, and what it cost. */
  const zapAll = async (names = NAMES) => {
    cost();
    const statuses: Record<string, number> = {};
    for (const name of names) statuses[name] = await live(name);
    return { statuses, ...cost() };
  };
  return {
    lineup: running,
    passwords,
    live,
    zapAll,
    setClock: (time: number) => {
      now = time;
    },
    cost,
  };
}

/** The statements, run by the sqlite3 shell in a child process, as an operator behind Lineup's back. */
const sqlite3 = (dbPath: string, sql: string) => execFileSync('sqlite3', [dbPath, sql]);

describe('XC logins: remembered until their subscriber changes', () => {
  it('when a line zaps through /live links, then its login is looked up and its password hashed once, then neither', async () => {
    const { zapAll } = await start();
    expect(await zapAll()).toEqual({ statuses: { alice: 302, bob: 302, carol: 302 }, looked: NAMES, hashes: 3 });
    expect(await zapAll()).toEqual({ statuses: { alice: 302, bob: 302, carol: 302 }, looked: [], hashes: 0 });
    expect(await zapAll()).toEqual({ statuses: { alice: 302, bob: 302, carol: 302 }, looked: [], hashes: 0 });
  });

  it('when a remembered line is asked with wrong passwords, then each is hashed and counted by the guess limiter, and none is logged', async () => {
    const { lineup, zapAll, live, cost, passwords } = await start({ GUESS_LIMIT: '2', GUESS_WINDOW: '600', GUESS_BLOCK: '900' });
    await zapAll();
    expect(await live('alice', 'wrong-pass1')).toBe(401);
    expect(cost()).toEqual({ looked: [], hashes: 1 });
    expect(await live('alice', 'wrong-pass2')).toBe(401);
    expect(cost()).toEqual({ looked: [], hashes: 1 });
    expect(await live('alice', 'wrong-pass3')).toBe(401);
    // Past the limit: refused before any login, the right password too.
    expect(await live('alice')).toBe(429);
    expect(cost()).toEqual({ looked: [], hashes: 1 });
    const logged = lineup.logs.lines.map((line) => JSON.stringify(line)).join('\n');
    for (const password of ['wrong-pass1', 'wrong-pass2', 'wrong-pass3', passwords.get('alice')!]) expect(logged).not.toContain(password);
  });

  it('when a password is rotated by another connection (the CLI), then the old one is refused at once, the new one works, and only that line is looked up', async () => {
    const { lineup, zapAll, live, passwords, cost } = await start();
    await zapAll();
    const old = passwords.get('bob')!;
    const rotated = await lineup.cli(['subscriber', 'rotate-password', 'bob', '--password', 'bob-new-pass']);
    expect(rotated.code).toBe(0);
    expect(await live('bob', old)).toBe(401);
    expect(cost()).toEqual({ looked: ['bob'], hashes: 1 });
    passwords.set('bob', 'bob-new-pass');
    expect(await zapAll()).toEqual({ statuses: { alice: 302, bob: 302, carol: 302 }, looked: [], hashes: 1 });
  });

  it('when the sqlite3 shell gives one line the password hash of another, then the old password is refused and the other works', async () => {
    const { lineup, zapAll, live, passwords, cost } = await start();
    await zapAll();
    sqlite3(
      lineup.dbPath,
      "UPDATE subscribers SET xc_password_hash = (SELECT xc_password_hash FROM subscribers WHERE username = 'carol') WHERE username = 'bob';",
    );
    expect(await live('bob')).toBe(401);
    expect(cost()).toEqual({ looked: ['bob'], hashes: 1 });
    expect(await live('bob', passwords.get('carol'))).toBe(302);
    passwords.set('bob', passwords.get('carol')!);
    expect(await zapAll()).toEqual({ statuses: { alice: 302, bob: 302, carol: 302 }, looked: [], hashes: 0 });
  });

  it.each([
    ['a disable by the sqlite3 shell', "UPDATE subscribers SET enabled = 0 WHERE username = 'bob';", 403],
    ['an expiry set by the sqlite3 shell', "UPDATE subscribers SET expires_at = '2026-12-01 00:00:00' WHERE username = 'bob';", 403],
    ['a removal by the sqlite3 shell', "DELETE FROM subscribers WHERE username = 'bob';", 401],
    ['the XC login taken away by the sqlite3 shell', "UPDATE subscribers SET xc_password_hash = NULL WHERE username = 'bob';", 401],
  ])('when %s, then the very next zap is refused, and only that line is looked up again', async (_, sql, status) => {
    const { lineup, zapAll } = await start();
    await zapAll();
    sqlite3(lineup.dbPath, sql);
    const { statuses, looked } = await zapAll();
    expect(statuses).toEqual({ alice: 302, bob: status, carol: 302 });
    expect(looked).toEqual(['bob']);
  });

  it('when a lapsed line is renewed through the admin API, then its very next zap is redirected', async () => {
    const { lineup, zapAll, setClock } = await start();
    await zapAll();
    setClock(Date.parse('2027-01-02T00:00:00Z') / 1000);
    // Expiry by the clock alone: seen without a lookup.
    expect(await zapAll()).toEqual({ statuses: { alice: 403, bob: 403, carol: 403 }, looked: [], hashes: 0 });
    expect((await lineup.api('POST', '/api/v1/subscribers/alice/renew', { body: { days: 30 } })).status).toBe(200);
    expect(await zapAll()).toEqual({ statuses: { alice: 302, bob: 403, carol: 403 }, looked: ['alice'], hashes: 1 });
  });

  it('when the CLI removes a line or another connection writes a note, then the removed line is refused and the others cost nothing', async () => {
    const { lineup, zapAll } = await start();
    await zapAll();
    expect((await lineup.cli(['subscriber', 'remove', 'carol'])).code).toBe(0);
    expect(await zapAll()).toEqual({ statuses: { alice: 302, bob: 302, carol: 401 }, looked: ['carol'], hashes: 0 });
    sqlite3(lineup.dbPath, "UPDATE subscribers SET note = 'called' WHERE username = 'alice';");
    expect(await zapAll(['alice', 'bob'])).toEqual({ statuses: { alice: 302, bob: 302 }, looked: [], hashes: 0 });
  });

  it('when the change log is trimmed past what the server read, or dropped, then every login is looked up and hashed again', async () => {
    const { lineup, zapAll } = await start();
    await zapAll();
    sqlite3(lineup.dbPath, "UPDATE subscribers SET enabled = 0 WHERE username = 'bob';");
    expect(new SubscriberStore(lineup.context.db, { days: 30, clock: () => START }).trimChangeLog(0)).toBeGreaterThan(0);
    expect(await zapAll()).toEqual({ statuses: { alice: 302, bob: 403, carol: 302 }, looked: NAMES, hashes: 3 });
    sqlite3(lineup.dbPath, "UPDATE subscribers SET enabled = 1 WHERE username = 'bob';");
    expect((await zapAll()).looked).toEqual(['bob']);
    sqlite3(
      lineup.dbPath,
      "DROP TRIGGER subscribers_update_logs_change; DROP TABLE subscriber_changes; UPDATE subscribers SET enabled = 0 WHERE username = 'bob';",
    );
    expect(await zapAll()).toEqual({ statuses: { alice: 302, bob: 403, carol: 302 }, looked: NAMES, hashes: 3 });
  });
});
