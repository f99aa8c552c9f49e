import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuessLimiter, guessBucket } from '../../src/http/guess-limiter.js';
import { addSubscriber } from '../core/support.js';
import { fetchFrom, lastLine, onServer, startTestLineup, type TestLineup } from '../helpers/lineup.js';

describe('guessBucket', () => {
  it('when the address is IPv4, then it is counted on its own', () => {
    expect(guessBucket('203.0.113.7')).toBe('203.0.113.7');
  });

  it('when addresses share an IPv6 /64, then they share one bucket, however they are compressed', () => {
    const bucket = guessBucket('2001:db8:1:2::1');
    expect(guessBucket('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe(bucket);
    expect(guessBucket('2001:db8:1:3::1')).not.toBe(bucket);
    expect(guessBucket('::1')).toBe('0:0:0:0::/64');
    expect(guessBucket('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(guessBucket('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });
});

describe('GuessLimiter', () => {
  const limits = { maxFailures: 3, windowSeconds: 60, blockSeconds: 120, maxTracked: 50 };

  it('when an address fails more than the limit within the window, then it is blocked for the block time', () => {
    let now = 1000;
    const limiter = new GuessLimiter(limits, () => now);
    for (let i = 0; i < 3; i++) limiter.recordFailure('a');
    expect(limiter.retryAfter('a')).toBeUndefined();
    limiter.recordFailure('a');
    expect(limiter.retryAfter('a')).toBe(120);
    now += 119.5;
    expect(limiter.retryAfter('a')).toBe(1);
    now += 1;
    expect(limiter.retryAfter('a')).toBeUndefined();
  });

  it('when failures are spread beyond the window, then they never add up to a block', () => {
    let now = 0;
    const limiter = new GuessLimiter(limits, () => now);
    for (let i = 0; i < 20; i++) {
      limiter.recordFailure('a');
      now += 30; // two failures per 60 s window at most
    }
    expect(limiter.retryAfter('a')).toBeUndefined();
  });

  it("when one address is blocked, then another address's state is untouched", () => {
    const limiter = new GuessLimiter(limits, () => 0);
    for (let i = 0; i < 10; i++) limiter.recordFailure('a');
    expect(limiter.retryAfter('a')).toBeGreaterThan(0);
    expect(limiter.retryAfter('b')).toBeUndefined();
  });

  it('when thousands of addresses fail once, then memory stays at the cap', () => {
    const limiter = new GuessLimiter(limits, () => 0);
    for (let i = 0; i < 5000; i++) limiter.recordFailure(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.tracked).toBeLessThanOrEqual(limits.maxTracked);
  });

  it('when windows have passed, then expired addresses are forgotten', () => {
    let now = 0;
    const limiter = new GuessLimiter(limits, () => now);
    for (let i = 0; i < 40; i++) limiter.recordFailure(`10.0.0.${i}`);
    now += 61;
    limiter.recordFailure('10.0.1.1');
    expect(limiter.tracked).toBe(1);
  });
});

describe('key guessing against the real server', () => {
  let lineup: TestLineup;
  let aliceUrl: string;
  const guess = (localAddress: string) => fetchFrom(`${lineup.url}/playlist/AAAAAAAAAAAAAAAAAAAAAAAA.m3u`, { localAddress });

  beforeAll(async () => {
    lineup = await startTestLineup({ env: { GUESS_LIMIT: '3', GUESS_WINDOW: '600', GUESS_BLOCK: '900' } });
    aliceUrl = await addSubscriber(lineup, 'alice');
    for (let i = 0; i < 4; i++) expect((await guess('127.0.0.2')).status).toBe(404);
  });
  afterAll(() => lineup.close());

  it('when an address has guessed past the limit, then it gets 429 with Retry-After, even with a valid key', async () => {
    const refused = await guess('127.0.0.2');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(800);
    expect(refused.body).toMatch(/too many/i);
    expect((await fetchFrom(aliceUrl, { localAddress: '127.0.0.2' })).status).toBe(429);
  });

  it('when the subscriber fetches from another address, then the guesser does not slow them at all', async () => {
    const served = await fetchFrom(aliceUrl, { localAddress: '127.0.0.1' });
    expect(served.status).toBe(200);
    expect(served.body.startsWith('#EXTM3U')).toBe(true);
  });

  it('when a valid key is fetched many times, then it never counts as a failure', async () => {
    for (let i = 0; i < 8; i++) expect((await fetchFrom(aliceUrl, { localAddress: '127.0.0.3' })).status).toBe(200);
    expect((await guess('127.0.0.3')).status).toBe(404);
  });

  it('when a valid key asks /play for channels that no longer exist, then that is not guessing and is never blocked', async () => {
    const key = /\/playlist\/([^/.]+)\.m3u/.exec(aliceUrl)![1]!;
    for (let i = 0; i < 8; i++) {
      expect((await fetchFrom(`${lineup.url}/play/${key}/99999.m3u8`, { localAddress: '127.0.0.4' })).status).toBe(404);
    }
    expect((await fetchFrom(aliceUrl, { localAddress: '127.0.0.4' })).status).toBe(200);
  });

  it('when an app keeps fetching a URL that a rotation replaced, then that is not guessing and the new URL is never blocked', async () => {
    const oldUrl = await addSubscriber(lineup, 'rotating');
    const rotated = await lineup.cli(['subscriber', 'rotate', 'rotating']);
    const newUrl = onServer(lineup, lastLine(rotated.stdout));
    const oldKey = /\/playlist\/([^/.]+)\.m3u/.exec(oldUrl)![1]!;
    for (let i = 0; i < 4; i++) {
      expect((await fetchFrom(oldUrl, { localAddress: '127.0.0.6' })).status).toBe(403);
      expect((await fetchFrom(`${lineup.url}/play/${oldKey}/1.m3u8`, { localAddress: '127.0.0.6' })).status).toBe(403);
    }
    expect((await fetchFrom(newUrl, { localAddress: '127.0.0.6' })).status).toBe(200);
  });

  it('when unknown keys are tried on /play, then they count like playlist guesses', async () => {
    for (let i = 0; i < 4; i++) {
      expect((await fetchFrom(`${lineup.url}/play/${'Q'.repeat(24)}/1.m3u8`, { localAddress: '127.0.0.5' })).status).toBe(404);
    }
    expect((await fetchFrom(aliceUrl, { localAddress: '127.0.0.5' })).status).toBe(429);
  });

  it('when the rest of the site is asked for, then the limiter stays out of it', async () => {
    expect((await fetchFrom(`${lineup.url}/healthz`, { localAddress: '127.0.0.2' })).status).toBe(200);
  });
});

describe('key guessing from IPv6 behind a trusted proxy', () => {
  let lineup: TestLineup;
  let aliceUrl: string;
  const from = (url: string, forwardedFor: string) => fetchFrom(url, { headers: { 'X-Forwarded-For': forwardedFor } });

  beforeAll(async () => {
    lineup = await startTestLineup({ env: { GUESS_LIMIT: '2', TRUST_PROXY: '127.0.0.1' } });
    aliceUrl = await addSubscriber(lineup, 'alice');
  });
  afterAll(() => lineup.close());

  it('when guesses come from different addresses of one /64, then they add up and the whole /64 is blocked', async () => {
    const neighbours = ['2001:db8:5:6::1', '2001:db8:5:6::2', '2001:db8:5:6::abcd:1', '2001:db8:5:6:ffff:ffff:ffff:ffff'];
    for (const [index, address] of neighbours.entries()) {
      const response = await from(`${lineup.url}/playlist/${'G'.repeat(24)}.m3u`, address);
      expect(response.status).toBe(index === 3 ? 429 : 404);
    }
    expect((await from(aliceUrl, '2001:db8:5:6:1:2:3:4')).status).toBe(429);
  });

  it('when the subscriber is in the neighbouring /64, then they are served', async () => {
    expect((await from(aliceUrl, '2001:db8:5:7::1')).status).toBe(200);
  });
});
