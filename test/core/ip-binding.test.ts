import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFrom, onServer, startTestLineup, TEST_KEY, type TestLineup } from '../helpers/lineup.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';
import { addSubscriber, applySql, expectAllTokensValid, parsePlaylist } from './support.js';

const CHANNELS = "INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1), ('live/two', 'Two', 2);";

function verifiesFor(body: string, ip: string): boolean {
  const entries = parsePlaylist(body);
  return entries.length > 0 && entries.every((entry) => verifySecuretokenUrl(entry.url, { key: TEST_KEY, ip }).valid);
}

describe('without TRUST_PROXY', () => {
  let lineup: TestLineup;
  let url: string;
  beforeAll(async () => {
    lineup = await startTestLineup();
    await applySql(lineup, CHANNELS);
    url = await addSubscriber(lineup, 'alice');
  });
  afterAll(() => lineup.close());

  it('when the request comes from 127.0.0.2, then tokens verify for 127.0.0.2 and not for 127.0.0.1', async () => {
    const { status, body } = await fetchFrom(url, { localAddress: '127.0.0.2' });
    expect(status).toBe(200);
    expectAllTokensValid(body, '127.0.0.2');
    expect(verifiesFor(body, '127.0.0.1')).toBe(false);
  });

  it('when an untrusted peer sends X-Forwarded-For, then it is ignored', async () => {
    const { body } = await fetchFrom(url, { localAddress: '127.0.0.2', headers: { 'X-Forwarded-For': '198.51.100.7' } });
    expect(verifiesFor(body, '127.0.0.2')).toBe(true);
    expect(verifiesFor(body, '198.51.100.7')).toBe(false);
  });
});

describe('with TRUST_PROXY=127.0.0.1', () => {
  let lineup: TestLineup;
  let url: string;
  beforeAll(async () => {
    lineup = await startTestLineup({ env: { TRUST_PROXY: '127.0.0.1' } });
    await applySql(lineup, CHANNELS);
    url = await addSubscriber(lineup, 'alice');
  });
  afterAll(() => lineup.close());

  it('when the trusted proxy forwards a chain, then the right-most untrusted hop is signed, not the left-most', async () => {
    const { body } = await fetchFrom(url, { headers: { 'X-Forwarded-For': '6.6.6.6, 198.51.100.7, 127.0.0.1' } });
    expect(verifiesFor(body, '198.51.100.7')).toBe(true);
    expect(verifiesFor(body, '6.6.6.6')).toBe(false);
    expect(verifiesFor(body, '127.0.0.1')).toBe(false);
  });

  it('when the trusted proxy sends no X-Forwarded-For, then the proxy address itself is signed', async () => {
    expect(verifiesFor((await fetchFrom(url)).body, '127.0.0.1')).toBe(true);
  });

  it('when a peer outside TRUST_PROXY sends X-Forwarded-For, then it is still ignored', async () => {
    const { body } = await fetchFrom(url, { localAddress: '127.0.0.2', headers: { 'X-Forwarded-For': '198.51.100.7' } });
    expect(verifiesFor(body, '127.0.0.2')).toBe(true);
  });
});

describe('listening on :: (dual stack)', () => {
  let lineup: TestLineup | undefined;
  let url = '';
  let unavailable = '';
  beforeAll(async () => {
    try {
      lineup = await startTestLineup({ env: { HOST: '::' } });
    } catch (error) {
      unavailable = `IPv6 is unavailable here: ${(error as Error).message}`;
      return;
    }
    await applySql(lineup, CHANNELS);
    const playlistUrl = await addSubscriber(lineup, 'alice');
    const { pathname } = new URL(onServer(lineup, playlistUrl));
    url = `http://[::ffff:127.0.0.1]:${new URL(lineup.url).port}${pathname}`;
  });
  afterAll(() => lineup?.close());

  it('when the peer is ::ffff:127.0.0.1, then the tokens are signed for plain 127.0.0.1', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const { status, body } = await fetchFrom(url);
    expect(status).toBe(200);
    expectAllTokensValid(body, '127.0.0.1');
    expect(verifiesFor(body, '::ffff:127.0.0.1')).toBe(false);
  });
});
