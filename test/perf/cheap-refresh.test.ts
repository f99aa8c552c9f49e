import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { addSubscriber, applySql, expectAllTokensValid, parsePlaylist } from '../core/support.js';
import { fetchBytes, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';

const CHANNELS = `
  INSERT INTO channels (stream, name, number, group_title) VALUES
    ('news', 'News', 1, 'General'), ('live/sport', 'Sport', 2, 'Sport'), ('kids/toons', 'Toons', 3, 'Kids');`;

/** A clock the test moves by hand. */
function handClock(start: number) {
  const clock = () => clock.now;
  clock.now = start;
  return clock;
}

// 2026-11-28 12:00:00 UTC: a multiple of 300, so bucket boundaries are easy to stand on.
const NOON = 1_795_867_200;

let lineup: TestLineup | undefined;
afterEach(async () => {
  await lineup?.close();
  lineup = undefined;
});

async function start(env: NodeJS.ProcessEnv, clock = handClock(NOON)) {
  lineup = await startTestLineup({ env, clock });
  await applySql(lineup, CHANNELS);
  const url = await addSubscriber(lineup, 'alice', '--days', '30');
  return { lineup, url, clock };
}

function tokensOf(body: Buffer | string): string[] {
  return parsePlaylist(String(body)).map((entry) => new URL(entry.url).searchParams.get('token') ?? '');
}

describe('bucketed tokens (TOKEN_BUCKET=300)', () => {
  it('when the same subscriber asks again from the same IP within a bucket, then the bytes and the ETag are identical', async () => {
    const { url, clock } = await start({ TOKEN_BUCKET: '300' });
    const first = await fetchBytes(url);
    clock.now += 299;
    const second = await fetchBytes(url);
    expect(first.status).toBe(200);
    expect(first.headers.etag).toMatch(/^"[^"]+"$/);
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(second.body.equals(first.body)).toBe(true);
    expect(first.headers['cache-control']).toBe('private, no-cache');
  });

  it('when an app refreshes three times within a bucket without If-None-Match, then all three get the same bytes and ETag (rendered alone, then kept, then from the cache), and each takes its own gzip too', async () => {
    const { url, clock } = await start({ TOKEN_BUCKET: '300' });
    const answers = [];
    for (let i = 0; i < 3; i++) {
      answers.push(await fetchBytes(url));
      clock.now += 10;
    }
    for (const answer of answers.slice(1)) {
      expect(answer.headers.etag).toBe(answers[0]!.headers.etag);
      expect(answer.body.equals(answers[0]!.body)).toBe(true);
    }
    const zipped = [];
    for (let i = 0; i < 3; i++) zipped.push(await fetchBytes(url, { headers: { 'Accept-Encoding': 'gzip' } }));
    for (const answer of zipped) {
      expect(answer.headers.etag).toBe(`${String(answers[0]!.headers.etag).slice(0, -1)}.gz"`);
      expect(gunzipSync(answer.body).equals(answers[0]!.body)).toBe(true);
    }
  });

  it('when the bucket rolls over, then the tokens and the ETag change', async () => {
    const { url, clock } = await start({ TOKEN_BUCKET: '300' });
    const first = await fetchBytes(url);
    clock.now += 300;
    const next = await fetchBytes(url);
    expect(next.headers.etag).not.toBe(first.headers.etag);
    expect(tokensOf(next.body)).not.toEqual(tokensOf(first.body));
  });

  it('when another IP asks within the same bucket, then it gets different tokens and ETag, each valid for its own IP', async () => {
    const { url } = await start({ TOKEN_BUCKET: '300' });
    const here = await fetchBytes(url);
    const there = await fetchBytes(url, { localAddress: '127.0.0.2' });
    expect(there.headers.etag).not.toBe(here.headers.etag);
    const mine = tokensOf(here.body);
    for (const token of tokensOf(there.body)) expect(mine).not.toContain(token);
    expectAllTokensValid(String(here.body), '127.0.0.1');
    expectAllTokensValid(String(there.body), '127.0.0.2');
  });

  it('when the lineup changes, then the ETag changes and the new channel is served at once', async () => {
    const { url } = await start({ TOKEN_BUCKET: '300' });
    const before = await fetchBytes(url);
    await applySql(lineup!, "INSERT INTO channels (stream, name, number) VALUES ('late', 'Late', 9);");
    const after = await fetchBytes(url, { headers: { 'If-None-Match': String(before.headers.etag) } });
    expect(after.status).toBe(200);
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect(parsePlaylist(String(after.body)).map((entry) => entry.name)).toContain('Late');
  });

  it('when the subscriber changes (disabled), then the old ETag no longer earns a 304', async () => {
    const { url } = await start({ TOKEN_BUCKET: '300' });
    const before = await fetchBytes(url);
    expect((await lineup!.cli(['subscriber', 'disable', 'alice'])).code).toBe(0);
    const after = await fetchBytes(url, { headers: { 'If-None-Match': String(before.headers.etag) } });
    expect(after.status).toBe(403);
  });

  it('when TOKEN_BUCKET=0, then every response has a fresh salt and its own ETag', async () => {
    const { url } = await start({ TOKEN_BUCKET: '0' });
    const first = await fetchBytes(url);
    const second = await fetchBytes(url);
    expect(second.headers.etag).not.toBe(first.headers.etag);
    const salts = (body: Buffer) =>
      new Set(parsePlaylist(String(body)).map((entry) => verifySecuretokenUrl(entry.url, { key: 'x', ip: 'x' }).salt));
    for (const salt of salts(second.body)) expect(salts(first.body)).not.toContain(salt);
    expectAllTokensValid(String(first.body), '127.0.0.1');
  });
});

describe('token life within a bucket', () => {
  it('when served at the last second of a bucket, then every token verifies and has at least TTL − BUCKET seconds left', async () => {
    const ttl = 3600;
    const bucket = 600;
    const { url, clock } = await start({ TOKEN_BUCKET: String(bucket), TOKEN_TTL: String(ttl), TOKEN_DESYNC: '0' });
    for (const offset of [0, 1, bucket - 1]) {
      clock.now = NOON + offset;
      const body = String((await fetchBytes(url)).body);
      for (const entry of expectAllTokensValid(body, '127.0.0.1')) {
        const { starttime, endtime } = verifySecuretokenUrl(entry.url, { key: 'x', ip: 'x' });
        expect(starttime).toBeLessThanOrEqual(clock.now);
        expect(endtime! - clock.now).toBeGreaterThanOrEqual(ttl - bucket);
      }
    }
  });

  it('when starttime is backdated (TOKEN_DESYNC), then it is the bucket start minus the desync', async () => {
    const { url, clock } = await start({ TOKEN_BUCKET: '300', TOKEN_TTL: '10800', TOKEN_DESYNC: '120' });
    clock.now = NOON + 250;
    const [entry] = parsePlaylist(String((await fetchBytes(url)).body));
    const { starttime, endtime } = verifySecuretokenUrl(entry!.url, { key: 'x', ip: 'x' });
    expect(starttime).toBe(NOON - 120);
    expect(endtime).toBe(NOON - 120 + 10800);
  });
});

describe('ETag and 304', () => {
  it('when If-None-Match carries the current ETag, then GET and HEAD answer 304 with an empty body', async () => {
    const { url } = await start({ TOKEN_BUCKET: '300' });
    const first = await fetchBytes(url);
    for (const method of ['GET', 'HEAD']) {
      const again = await fetchBytes(url, { method, headers: { 'If-None-Match': String(first.headers.etag) } });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
      expect(again.headers.etag).toBe(first.headers.etag);
    }
  });

  it('when If-None-Match carries a stale ETag, then the full playlist comes back', async () => {
    const { url } = await start({ TOKEN_BUCKET: '300' });
    const fresh = await fetchBytes(url, { headers: { 'If-None-Match': '"stale"' } });
    expect(fresh.status).toBe(200);
    expect(parsePlaylist(String(fresh.body))).toHaveLength(3);
  });

  it('when the key is unknown, then If-None-Match changes nothing: 404', async () => {
    const { url } = await start({ TOKEN_BUCKET: '300' });
    const first = await fetchBytes(url);
    const unknown = url.replace(/\/playlist\/[^/.]+/, '/playlist/AAAAAAAAAAAAAAAAAAAAAAAA');
    expect((await fetchBytes(unknown, { headers: { 'If-None-Match': String(first.headers.etag) } })).status).toBe(404);
  });
});

describe('gzip', () => {
  it('when the client accepts gzip, then the body inflates to exactly the identity bytes, with Vary: Accept-Encoding', async () => {
    const { url } = await start({ TOKEN_BUCKET: '300' });
    const plain = await fetchBytes(url);
    const zipped = await fetchBytes(url, { headers: { 'Accept-Encoding': 'gzip, deflate' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(String(zipped.headers.vary)).toMatch(/accept-encoding/i);
    expect(String(plain.headers.vary)).toMatch(/accept-encoding/i);
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    expect(zipped.body.length).toBeLessThan(plain.body.length);
  });

  // Issue 15, Why 11: the gzip and identity responses carried the same strong ETag, which RFC 9110 forbids.
  it('when the gzip and the identity playlist are fetched, then each has its own strong ETag and revalidates to 304 only with it', async () => {
    const { url } = await start({ TOKEN_BUCKET: '300' });
    const gzip = { 'Accept-Encoding': 'gzip' };
    const plain = await fetchBytes(url);
    const zipped = await fetchBytes(url, { headers: gzip });
    const plainTag = String(plain.headers.etag);
    const zippedTag = String(zipped.headers.etag);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(plainTag).toMatch(/^"[^"]+"$/);
    expect(zippedTag).toMatch(/^"[^"]+"$/);
    expect(zippedTag).not.toBe(plainTag);

    const zippedAgain = await fetchBytes(url, { headers: { ...gzip, 'If-None-Match': zippedTag } });
    expect(zippedAgain.status).toBe(304);
    expect(zippedAgain.headers.etag).toBe(zippedTag);
    const plainAgain = await fetchBytes(url, { headers: { 'If-None-Match': plainTag } });
    expect(plainAgain.status).toBe(304);
    expect(plainAgain.headers.etag).toBe(plainTag);

    // The other coding's tag confirms nothing: the full body comes back in the coding asked for.
    const zippedWithPlainTag = await fetchBytes(url, { headers: { ...gzip, 'If-None-Match': plainTag } });
    expect(zippedWithPlainTag.status).toBe(200);
    expect(zippedWithPlainTag.headers.etag).toBe(zippedTag);
    expect(gunzipSync(zippedWithPlainTag.body).equals(plain.body)).toBe(true);
    const plainWithZippedTag = await fetchBytes(url, { headers: { 'If-None-Match': zippedTag } });
    expect(plainWithZippedTag.status).toBe(200);
    expect(plainWithZippedTag.headers.etag).toBe(plainTag);
    expect(plainWithZippedTag.body.equals(plain.body)).toBe(true);
  });

  it('when the client sends no Accept-Encoding or refuses gzip, then the body is not compressed', async () => {
    const { url } = await start({ TOKEN_BUCKET: '300' });
    const variants: Record<string, string>[] = [{}, { 'Accept-Encoding': 'identity' }, { 'Accept-Encoding': 'gzip;q=0' }];
    for (const headers of variants) {
      const response = await fetchBytes(url, { headers });
      expect(response.headers['content-encoding']).toBeUndefined();
      expect(String(response.body)).toMatch(/^#EXTM3U\n/);
    }
  });
});

describe('TOKEN_BUCKET validation', () => {
  it('when TOKEN_BUCKET is not less than TOKEN_TTL, then the start fails naming TOKEN_BUCKET', async () => {
    await expect(startTestLineup({ env: { TOKEN_BUCKET: '3600', TOKEN_TTL: '3600' } })).rejects.toThrow(
      /^TOKEN_BUCKET must be less than TOKEN_TTL/,
    );
  });
});
