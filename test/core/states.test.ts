import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFrom, lastLine, onServer, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { addSubscriber, applySql, expectAllTokensValid } from './support.js';

const STACK = /\bat .+:\d+:\d+|node_modules|\.ts:\d+/;

let lineup: TestLineup;
beforeAll(async () => {
  lineup = await startTestLineup();
  await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1);");
});
afterAll(() => lineup.close());

describe('subscriber states over HTTP', () => {
  it('when the subscription has expired, then 403 with a plain-text reason naming the date', async () => {
    const url = await addSubscriber(lineup, 'lapsed', '--until', '2020-03-04 05:06:07', '--allow-past');
    const response = await fetchFrom(url);
    expect(response.status).toBe(403);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toContain('2020-03-04 05:06:07');
    expect(response.body).not.toMatch(STACK);
  });

  it('when the subscriber is disabled, then 403; enabled again, then 200', async () => {
    const url = await addSubscriber(lineup, 'paused');
    expect((await lineup.cli(['subscriber', 'disable', 'paused'])).code).toBe(0);
    const response = await fetchFrom(url);
    expect(response.status).toBe(403);
    expect(response.body.toLowerCase()).toContain('disabled');
    expect((await lineup.cli(['subscriber', 'enable', 'paused'])).code).toBe(0);
    expect((await fetchFrom(url)).status).toBe(200);
  });

  it('when the key is unknown or malformed, then 404 with the very same body', async () => {
    const unknown = await fetchFrom(`${lineup.url}/playlist/AAAAAAAAAAAAAAAAAAAAAAAA.m3u`);
    const malformed = await fetchFrom(`${lineup.url}/playlist/x'%22;--.m3u`);
    const noExtension = await fetchFrom(`${lineup.url}/playlist/AAAAAAAAAAAAAAAAAAAAAAAA`);
    expect(unknown.status).toBe(404);
    expect(malformed.status).toBe(404);
    expect(noExtension.status).toBe(404);
    expect(malformed.body).toBe(unknown.body);
    expect(noExtension.body).toBe(unknown.body);
    expect(unknown.body).not.toMatch(STACK);
  });

  it('when the URL is rotated, then the old URL answers 403 saying it was replaced, and the new one works', async () => {
    const oldUrl = await addSubscriber(lineup, 'rotor');
    const rotated = await lineup.cli(['subscriber', 'rotate', 'rotor']);
    expect(rotated.code).toBe(0);
    const newUrl = onServer(lineup, lastLine(rotated.stdout));
    expect(newUrl).not.toBe(oldUrl);
    const old = await fetchFrom(oldUrl);
    expect(old.status).toBe(403);
    expect(old.headers['content-type']).toMatch(/^text\/plain/);
    expect(old.body).toBe('This playlist URL has been replaced. Ask your provider for the new one.\n');
    const fresh = await fetchFrom(newUrl);
    expect(fresh.status).toBe(200);
    expectAllTokensValid(fresh.body, '127.0.0.1');
  });

  it('when the key is changed twice, the second time by an admin UPDATE, then both old URLs are told they were replaced', async () => {
    const first = await addSubscriber(lineup, 'twice');
    const second = onServer(lineup, lastLine((await lineup.cli(['subscriber', 'rotate', 'twice'])).stdout));
    await applySql(lineup, `UPDATE subscribers SET key_hash = '${'ab'.repeat(32)}' WHERE username = 'twice';`);
    for (const url of [first, second]) expect((await fetchFrom(url)).status).toBe(403);
  });

  it('when a rotated subscriber is removed, then both the old and the current URL answer 410 Gone', async () => {
    const oldUrl = await addSubscriber(lineup, 'rotated-then-gone');
    const currentUrl = onServer(lineup, lastLine((await lineup.cli(['subscriber', 'rotate', 'rotated-then-gone'])).stdout));
    expect((await lineup.cli(['subscriber', 'remove', 'rotated-then-gone'])).code).toBe(0);
    for (const url of [oldUrl, currentUrl]) {
      const gone = await fetchFrom(url);
      expect(gone.status).toBe(410);
      expect(gone.body).toMatch(/no longer valid/);
    }
  });

  it('when an expired subscriber is renewed, then the same URL works again', async () => {
    const url = await addSubscriber(lineup, 'comeback', '--until', '2021-01-01', '--allow-past');
    expect((await fetchFrom(url)).status).toBe(403);
    const renewed = await lineup.cli(['subscriber', 'renew', 'comeback', '--days', '10']);
    expect(renewed.code).toBe(0);
    const response = await fetchFrom(url);
    expect(response.status).toBe(200);
    expect(expectAllTokensValid(response.body, '127.0.0.1').length).toBe(1);
  });

  it('when a subscriber is removed, then the URL answers 410 Gone, while a key that never existed stays 404', async () => {
    const url = await addSubscriber(lineup, 'gone');
    expect((await lineup.cli(['subscriber', 'remove', 'gone'])).code).toBe(0);
    expect((await fetchFrom(url)).status).toBe(410);
    expect((await fetchFrom(`${lineup.url}/playlist/AAAAAAAAAAAAAAAAAAAAAAAA.m3u`)).status).toBe(404);
  });
});

describe('other paths', () => {
  it('when /healthz is asked, then 200 with a small JSON body', async () => {
    const response = await fetchFrom(`${lineup.url}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(response.body)).toMatchObject({ status: 'ok' });
  });

  it.each(['/', '/nope', '/playlist/', '/playlist/a/b.m3u', '/../etc/passwd', '/%E0%A4%A'])(
    'when %s is asked, then 404 without a stack trace',
    async (path) => {
      const response = await fetchFrom(`${lineup.url}${path}`);
      expect(response.status).toBe(404);
      expect(response.body).not.toMatch(STACK);
    },
  );

  it('when a playlist path has a broken percent-encoding, then a 4xx, never a 5xx', async () => {
    const response = await fetchFrom(`${lineup.url}/playlist/%E0%A4%A.m3u`);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.body).not.toMatch(STACK);
  });
});
