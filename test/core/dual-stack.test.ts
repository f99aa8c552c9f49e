import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { hostsToTry, listenOnFirst } from '../../src/http/listen.js';
import { addSubscriber, applySql, expectAllTokensValid } from '../core/support.js';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';

// Issue 15, Why 10: with HOST=0.0.0.0 by default, `curl http://[::1]:8080/healthz` was refused.
describe('HOST left unset', () => {
  let lineup: TestLineup;
  let port = '';
  let playlistPath = '';
  beforeAll(async () => {
    // Empty counts as unset: the helper's HOST=127.0.0.1 gives way to the default.
    lineup = await startTestLineup({ env: { HOST: '' } });
    port = new URL(lineup.url).port;
    await applySql(lineup, "INSERT INTO channels (stream, name) VALUES ('news', 'News'), ('sport', 'Sport');");
    playlistPath = new URL(await addSubscriber(lineup, 'alice')).pathname;
  });
  afterAll(() => lineup.close());

  it('when the configuration is read, then HOST is ::', () => {
    expect(loadConfig({}).host).toBe('::');
  });

  it('when the server starts, then /healthz answers over [::1] and over 127.0.0.1', async (ctx) => {
    // A system without IPv6 falls back to 0.0.0.0 (tested below): there, only IPv4 can answer.
    if (new URL(lineup.url).hostname !== '[::]') ctx.skip(`IPv6 is unavailable here: listening on ${lineup.url}`);
    expect((await fetchFrom(`http://[::1]:${port}/healthz`)).status).toBe(200);
    expect((await fetchFrom(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('when an IPv4 client fetches its playlist from the dual-stack socket, then the tokens are signed for its plain IPv4 address', async () => {
    const { status, body } = await fetchFrom(`http://127.0.0.1:${port}${playlistPath}`);
    expect(status).toBe(200);
    expect(expectAllTokensValid(body, '127.0.0.1')).toHaveLength(2);
  });

  it('when an IPv6 client fetches its playlist, then the tokens are signed for its IPv6 address', async (ctx) => {
    if (new URL(lineup.url).hostname !== '[::]') ctx.skip('IPv6 is unavailable here');
    const { status, body } = await fetchFrom(`http://[::1]:${port}${playlistPath}`);
    expect(status).toBe(200);
    expect(expectAllTokensValid(body, '::1')).toHaveLength(2);
  });
});

describe('listening where an address is missing', () => {
  const servers: Server[] = [];
  const server = () => {
    const created = createServer();
    servers.push(created);
    return created;
  };
  afterEach(() => {
    for (const created of servers.splice(0)) created.close();
  });

  it('when HOST is ::, then IPv4 alone is the fallback; any other HOST is tried alone', () => {
    expect(hostsToTry('::')).toEqual(['::', '0.0.0.0']);
    expect(hostsToTry('127.0.0.1')).toEqual(['127.0.0.1']);
    expect(hostsToTry('::1')).toEqual(['::1']);
  });

  it('when the first address is not on this system, then the next one is listened on', async () => {
    // 2001:db8::/32 is for documentation: no interface has it, so binding it fails as `::` does without IPv6.
    const listening = server();
    expect(await listenOnFirst(listening, 0, ['2001:db8::1', '127.0.0.1'])).toBe('127.0.0.1');
    expect(listening.address()).toMatchObject({ address: '127.0.0.1' });
    // Listeners of the failed attempt are gone: none left to fire again, or to leak.
    expect(listening.listenerCount('error')).toBe(0);
    expect(listening.listenerCount('listening')).toBe(0);
  });

  it('when the port is in use, then that error stops the start: no other address is tried', async () => {
    const taken = server();
    await listenOnFirst(taken, 0, ['127.0.0.1']);
    const { port } = taken.address() as { port: number };
    await expect(listenOnFirst(server(), port, ['127.0.0.1', '127.0.0.2'])).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('when no address is left to try, then the last error is thrown', async () => {
    await expect(listenOnFirst(server(), 0, ['2001:db8::1'])).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  });
});
