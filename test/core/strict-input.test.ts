import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadInputError } from '../../src/errors.js';
import { parseUntil } from '../../src/subscribers/subscriber-admin.js';
import { type CliResult, fetchFrom, lastLine, onServer, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { applySql } from './support.js';

/**
 * Why 9 of the first-day report, as the operator met it: `lineup subscriber …` stored what it was
 * given (February 30 as March 2, an expiry already past, a username with a space) or refused it
 * with a message about something else ("ambiguous"). Each refusal is one stderr line naming the
 * argument, a non-zero exit, and nothing written.
 */

let lineup: TestLineup;
beforeAll(async () => {
  lineup = await startTestLineup();
});
afterAll(() => lineup.close());

interface Listed {
  username: string;
  expiresAt: string;
}

async function listed(): Promise<Listed[]> {
  const result = await lineup.cli(['subscriber', 'list', '--json']);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Listed[];
}

async function expiryOf(username: string): Promise<string | undefined> {
  return (await listed()).find((subscriber) => subscriber.username === username)?.expiresAt;
}

/** A refusal: non-zero, nothing on stdout, one stderr line that names `argument`. */
function expectRefused(result: CliResult, argument: string): string {
  expect(result.code).not.toBe(0);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(argument);
  return lines[0]!;
}

describe('--until takes real calendar dates', () => {
  it('when add --until 2027-02-30 is given, then it is refused naming --until, and no subscriber is stored (never March 2)', async () => {
    const line = expectRefused(await lineup.cli(['subscriber', 'add', 'feb30', '--until', '2027-02-30']), '--until');
    expect(line).toContain('"2027-02-30"');
    expect(await expiryOf('feb30')).toBeUndefined();
  });

  it.each([
    '2027-02-29',
    '2027-04-31',
    '2027-13-01',
    '2027-00-10',
    '2027-06-15 24:00:00',
    '2027-06-15 12:60',
    '2027-06-15 12:00:61',
    '2027-06-15 12:00:00+25:00',
    '0027-06-15',
    '2027-6-15',
    'next friday',
  ])('when --until is "%s", then add is refused naming --until', async (date) => {
    expectRefused(await lineup.cli(['subscriber', 'add', 'not-a-date', '--until', date]), '--until');
    expect(await expiryOf('not-a-date')).toBeUndefined();
  });

  it('when renew --until 2027-02-30 is given, then it is refused and the expiry stays as it was', async () => {
    expect((await lineup.cli(['subscriber', 'add', 'renew-feb', '--until', '2040-01-01'])).code).toBe(0);
    expectRefused(await lineup.cli(['subscriber', 'renew', 'renew-feb', '--until', '2041-02-30']), '--until');
    expect(await expiryOf('renew-feb')).toBe('2040-01-01 23:59:59');
  });

  it('when the date is real (a leap day, a time, an offset), then it is stored as that UTC second', async () => {
    expect((await lineup.cli(['subscriber', 'add', 'leap', '--until', '2040-02-29'])).code).toBe(0);
    expect(await expiryOf('leap')).toBe('2040-02-29 23:59:59');
    expect((await lineup.cli(['subscriber', 'add', 'timed', '--until', '2040-06-30 18:45'])).code).toBe(0);
    expect(await expiryOf('timed')).toBe('2040-06-30 18:45:00');
    expect((await lineup.cli(['subscriber', 'add', 'offset', '--until', '2040-12-31T23:30:00-02:00'])).code).toBe(0);
    expect(await expiryOf('offset')).toBe('2041-01-01 01:30:00');
  });
});

describe('parseUntil', () => {
  it('when the text is a real date, then the UTC time it means; when it is not, then BadInputError', () => {
    expect(parseUntil('2028-02-29')).toBe('2028-02-29 23:59:59');
    expect(parseUntil(' 2030-01-02 03:04:05 ')).toBe('2030-01-02 03:04:05');
    expect(parseUntil('2030-01-02T03:04:05Z')).toBe('2030-01-02 03:04:05');
    expect(parseUntil('2030-01-02T03:04:05.999+0130')).toBe('2030-01-02 01:34:05');
    for (const bad of ['2100-02-29', '2030-02-30', '2030-01-02 03:04:05+01:60', '9999-12-31T23:00:00-02:00', '']) {
      expect(() => parseUntil(bad), bad).toThrow(BadInputError);
    }
  });
});

describe('numbers are whole and positive, and say so', () => {
  it('when add --days -5 is given, then the message is that -5 is not a whole number ≥ 1 (not "ambiguous")', async () => {
    const result = await lineup.cli(['subscriber', 'add', 'negative', '--days', '-5']);
    expect(result.stderr).toBe('lineup: --days: "-5" is not a whole number ≥ 1\n');
    expect(result.code).toBe(2);
    expect(await expiryOf('negative')).toBeUndefined();
  });

  it.each([
    [['--days=-5'], '--days: "-5" is not a whole number ≥ 1'],
    [['--days', '0'], '--days: "0" is not a whole number ≥ 1'],
    [['--days', '1.5'], '--days: "1.5" is not a whole number ≥ 1'],
    [['--max-connections', '-1'], '--max-connections: "-1" is not a whole number ≥ 1'],
    [['--days', '99999'], '--days'],
    [['--until', '-2030-01-01'], '--until'],
  ])('when add is given %j, then it is refused with "%s"', async (options, message) => {
    expectRefused(await lineup.cli(['subscriber', 'add', 'numbers', ...options]), message);
    expect(await expiryOf('numbers')).toBeUndefined();
  });

  it('when renew --days -5 is given, then the same message, and the expiry stays as it was', async () => {
    expect((await lineup.cli(['subscriber', 'add', 'renew-neg', '--until', '2040-01-01'])).code).toBe(0);
    const result = await lineup.cli(['subscriber', 'renew', 'renew-neg', '--days', '-5']);
    expect(result.stderr).toBe('lineup: --days: "-5" is not a whole number ≥ 1\n');
    expect(await expiryOf('renew-neg')).toBe('2040-01-01 23:59:59');
  });
});

describe('an expiry already past is refused unless --allow-past', () => {
  it('when add --until 2020-01-01 is given, then it is refused naming --until and the date, and no line is created', async () => {
    const line = expectRefused(await lineup.cli(['subscriber', 'add', 'already-over', '--until', '2020-01-01']), '--until');
    expect(line).toContain('2020-01-01 23:59:59');
    expect(line).toContain('--allow-past');
    expect(await expiryOf('already-over')).toBeUndefined();
  });

  it('when --allow-past is given too, then the subscriber is created, expired from the start, and its URL answers 403', async () => {
    const result = await lineup.cli(['subscriber', 'add', 'meant-to', '--until', '2020-01-01', '--allow-past']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('meant-to: expired');
    expect((await fetchFrom(onServer(lineup, lastLine(result.stdout)))).status).toBe(403);
  });

  it('when renew --until names a past date, then it is refused and the expiry stays; with --allow-past it is set', async () => {
    expect((await lineup.cli(['subscriber', 'add', 'renew-past', '--until', '2040-01-01'])).code).toBe(0);
    expectRefused(await lineup.cli(['subscriber', 'renew', 'renew-past', '--until', '2021-05-05']), '--until');
    expect(await expiryOf('renew-past')).toBe('2040-01-01 23:59:59');
    expect((await lineup.cli(['subscriber', 'renew', 'renew-past', '--until', '2021-05-05', '--allow-past'])).code).toBe(0);
    expect(await expiryOf('renew-past')).toBe('2021-05-05 23:59:59');
  });

  it('when --allow-past comes without --until, then it is refused as meaningless', async () => {
    expectRefused(await lineup.cli(['subscriber', 'add', 'no-until', '--days', '3', '--allow-past']), '--allow-past');
    expect(await expiryOf('no-until')).toBeUndefined();
  });
});

describe('usernames', () => {
  it.each([
    ['a space', 'bad name'],
    ['a leading space', ' padded'],
    ['a slash', 'slash/y'],
    ['a question mark', 'q?x'],
    ['a percent sign', 'percent%20'],
    ['accented letters', 'ünïcode'],
    ['an at sign (XC apps put the name in URLs unescaped)', 'alice@example.com'],
    ['65 characters', 'a'.repeat(65)],
    ['the name of a path Lineup serves (a legacy XC link /live/P/1 would not reach it)', 'live'],
    ['such a name in another case (the path is read in lower case)', 'Play'],
    ['a dot segment (resolved away in a path)', '..'],
  ])("when a new subscriber's name has %s, then add is refused naming USER and the rule", async (_, name) => {
    const line = expectRefused(await lineup.cli(['subscriber', 'add', name]), 'USER');
    expect(line).toMatch(/letters, digits/);
    expect((await listed()).map((subscriber) => subscriber.username)).not.toContain(name);
  });

  it('when the name uses letters, digits, ".", "_", "~" and "-" within 64 characters, then add accepts it', async () => {
    for (const name of ['Alice.Smith_1-x~home', 'a'.repeat(64), '7']) {
      const result = await lineup.cli(['subscriber', 'add', name]);
      expect(result.stderr, name).toBe('');
      expect(result.code).toBe(0);
    }
  });

  it('when a subscriber inserted by SQL has a name outside the rule, then every command still works on it', async () => {
    await applySql(lineup, "INSERT INTO subscribers (username, expires_at) VALUES ('old name', '2040-01-01 00:00:00');");
    const rotated = await lineup.cli(['subscriber', 'rotate', 'old name']);
    expect(rotated.code).toBe(0);
    expect((await fetchFrom(onServer(lineup, lastLine(rotated.stdout)))).status).toBe(200);
    expect((await lineup.cli(['subscriber', 'renew', 'old name', '--days', '5'])).code).toBe(0);
    expect((await lineup.cli(['subscriber', 'disable', 'old name'])).code).toBe(0);
    expect((await lineup.cli(['subscriber', 'enable', 'old name'])).code).toBe(0);
    expect(await expiryOf('old name')).toBe('2040-01-06 00:00:00');
    expect((await lineup.cli(['subscriber', 'remove', 'old name'])).code).toBe(0);
  });
});
