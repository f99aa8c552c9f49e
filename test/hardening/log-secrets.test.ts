import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPruneOnce } from '../../src/jobs/prune-schedule.js';
import { flatLineLogger } from '../../src/logger.js';
import { pruneLapsed } from '../../src/subscribers/prune.js';
import { addSubscriber, applySql } from '../core/support.js';
import { captureLogs, fetchFrom, lastLine, onServer, startTestLineup, TEST_KEY, type TestLineup } from '../helpers/lineup.js';
import { rawGet } from './raw-http.js';

const METRICS_TOKEN = 'scrape-token-abcdefghijklmnop';

function keyOf(url: string): string {
  return /\/playlist\/([^/.]+)\.m3u/.exec(url)![1]!;
}

/**
 * A whole working day in one server: lineup changes, subscribers added, fetched from two
 * addresses, rotated, disabled, expired and pruned, keys guessed until 429, hostile requests and a
 * metrics scrape. Afterwards not one secret may be found anywhere in what the service logged.
 */
describe('secrets in logs', () => {
  let lineup: TestLineup;
  const secrets = new Set<string>([TEST_KEY, METRICS_TOKEN]);

  beforeAll(async () => {
    lineup = await startTestLineup({ env: { GUESS_LIMIT: '3', METRICS_TOKEN, LOG_LEVEL: 'trace' } });
    await applySql(
      lineup,
      "INSERT INTO channels (stream, name, number, catchup_days) VALUES ('news', 'News', 1, 3), ('live/sport', 'Sport', 2, 0);",
    );
    const urls = [await addSubscriber(lineup, 'alice'), await addSubscriber(lineup, 'bob'), await addSubscriber(lineup, 'carol')];
    for (const url of urls) secrets.add(keyOf(url));
    const [alice, bob, carol] = urls as [string, string, string];

    for (const localAddress of ['127.0.0.1', '127.0.0.2']) {
      for (const url of [alice, `${alice}?output=ts`, alice.replace('.m3u', '.m3u8')]) {
        const response = await fetchFrom(url, { localAddress });
        expect(response.status).toBe(200);
        for (const token of response.body.matchAll(/token=([^&\s]+)/g)) {
          secrets.add(token[1]!);
          secrets.add(token[1]!.split('-')[0]!); // the hash alone
        }
      }
    }
    expect((await fetchFrom(alice, { method: 'POST' })).status).toBe(200);
    expect((await fetchFrom(alice, { method: 'HEAD' })).status).toBe(200);
    await fetchFrom(`${lineup.url}/play/${keyOf(alice)}/1.m3u8`);

    const rotated = await lineup.cli(['subscriber', 'rotate', 'bob']);
    secrets.add(keyOf(lastLine(rotated.stdout)));
    expect((await fetchFrom(bob)).status).toBe(403);
    expect((await fetchFrom(onServer(lineup, lastLine(rotated.stdout)))).status).toBe(200);

    await lineup.cli(['subscriber', 'disable', 'carol']);
    expect((await fetchFrom(carol)).status).toBe(403);
    await applySql(lineup, "UPDATE subscribers SET expires_at = '2001-01-01 00:00:00', enabled = 1 WHERE username = 'carol';");
    expect((await fetchFrom(carol)).status).toBe(403);
    runPruneOnce(() => pruneLapsed(lineup.context.subscribers, lineup.context.clock, 7), lineup.logger, lineup.metrics);

    for (let i = 0; i < 5; i++) await fetchFrom(`${lineup.url}/playlist/${'Z'.repeat(24)}.m3u`, { localAddress: '127.0.0.3' });
    // A guesser that sends a real key after being blocked: 429, and the key must not be logged either.
    expect((await fetchFrom(alice, { localAddress: '127.0.0.3' })).status).toBe(429);
    await rawGet(lineup.url, `/playlist/${keyOf(alice)}.m3u?key=${keyOf(alice)}`, [], 'DELETE');
    await rawGet(lineup.url, `/playlist/${keyOf(alice)}%ZZ.m3u`);
    // Odd spellings of a keyed path, served or refused: the key is not logged either way.
    for (const target of [
      '/PLAYLIST/K.m3u',
      '//playlist/K.m3u',
      '/playlist//K.m3u',
      '/%70laylist/K.m3u',
      '/x/playlist%2FK.m3u',
      '/Play/K/1.m3u8',
    ]) {
      await rawGet(lineup.url, target.replace('K', keyOf(alice)));
    }
    await fetchFrom(`${lineup.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    await fetchFrom(`${lineup.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}x` } });
  });
  afterAll(() => lineup.close());

  it('when the scenario has run, then the logs hold one line per request with status, duration, IP and subscriber id', () => {
    const requests = lineup.logs.lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request');
    expect(requests.length).toBeGreaterThan(20);
    for (const entry of requests) {
      expect(typeof entry.status).toBe('number');
      expect(typeof entry.ms).toBe('number');
      expect(entry.ip).toMatch(/^127\.0\.0\.\d$/);
    }
    expect(requests.some((entry) => entry.status === 200 && typeof entry.subscriber === 'number')).toBe(true);
    expect(requests.some((entry) => entry.status === 429)).toBe(true);
  });

  it('when the logs are grepped for the securetoken key, every playlist key and every token, then none is found', () => {
    expect(secrets.size).toBeGreaterThan(10);
    const text = lineup.logs.text();
    for (const secret of secrets) expect(text.includes(secret), `a secret of length ${secret.length} is in the logs`).toBe(false);
  });
});

describe('the request log', () => {
  it('when a secret field reaches a flat line, then it is still redacted', () => {
    const { logger, logs } = captureLogs();
    flatLineLogger(logger).info(
      { key: 'playlist-key-1', token: 'token-2', secret: 'secret-3', securetokenKey: 'key-4', status: 200 },
      'request',
    );
    const line = JSON.parse(logs.lines[0]!);
    expect(line).toMatchObject({ key: '[redacted]', token: '[redacted]', secret: '[redacted]', securetokenKey: '[redacted]', status: 200 });
  });
});
