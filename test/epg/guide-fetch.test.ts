import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchGuide } from '../../src/epg/guide-fetch.js';
import { runGuideFetchOnce } from '../../src/jobs/epg-fetch-schedule.js';
import { captureLogs, fetchFrom, startTestLineup, tempDir } from '../helpers/lineup.js';
import { xmltv } from './support.js';

const guideWith = (title: string) =>
  xmltv(
    [{ id: 'news.test', name: 'News' }],
    [{ channel: 'news.test', start: '20261203120000 +0000', stop: '20261203130000 +0000', title }],
  );

/** What the upstream guide server answers next; every request is recorded. */
let answer: (request: IncomingMessage, response: ServerResponse) => void;
const requests: IncomingMessage[] = [];
let upstream: Server;
let base: string;

beforeAll(async () => {
  upstream = createServer((request, response) => {
    requests.push(request);
    answer(request, response);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

const serve =
  (body: string | Buffer, status = 200, headers: Record<string, string> = {}) =>
  (_request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(status, { 'Content-Type': 'application/xml', ...headers });
    response.end(body);
  };

describe('fetching the guide from a URL', () => {
  const files = tempDir('lineup-epg-fetch-');
  afterAll(() => files.cleanup());
  let epgFile: string;
  beforeEach(() => {
    epgFile = join(files.dir, `guide-${Math.random().toString(36).slice(2)}.xml`);
    requests.length = 0;
  });

  it('when the URL answers a guide, then it becomes EPG_FILE', async () => {
    answer = serve(guideWith('Fetched'));
    const result = await fetchGuide(`${base}/guide.xml`, epgFile);
    expect(result).toMatchObject({ outcome: 'updated', path: epgFile, channels: 1, programmes: 1 });
    expect(readFileSync(epgFile, 'utf8')).toBe(guideWith('Fetched'));
    expect(existsSync(`${epgFile}.download`)).toBe(false);
  });

  it('when the URL answers a gzip file, then it is kept as EPG_FILE.gz and a plain EPG_FILE is removed', async () => {
    writeFileSync(epgFile, guideWith('Old plain'));
    answer = serve(gzipSync(guideWith('Packed')), 200, { 'Content-Type': 'application/gzip' });
    const result = await fetchGuide(`${base}/guide.xml.gz`, epgFile);
    expect(result).toMatchObject({ outcome: 'updated', path: `${epgFile}.gz` });
    expect(gunzipSync(readFileSync(`${epgFile}.gz`)).toString('utf8')).toBe(guideWith('Packed'));
    expect(existsSync(epgFile)).toBe(false);
  });

  it('when the server gives Last-Modified, then the next fetch asks If-Modified-Since and a 304 keeps the file', async () => {
    const modified = 'Wed, 02 Dec 2026 10:00:00 GMT';
    answer = (request, response) => {
      if (request.headers['if-modified-since'] === modified) return serve('', 304)(request, response);
      serve(guideWith('Dated'), 200, { 'Last-Modified': modified })(request, response);
    };
    expect((await fetchGuide(`${base}/guide.xml`, epgFile)).outcome).toBe('updated');
    expect(await fetchGuide(`${base}/guide.xml`, epgFile)).toEqual({ outcome: 'unchanged' });
    expect(requests.map((request) => request.headers['if-modified-since'])).toEqual([undefined, modified]);
    expect(readFileSync(epgFile, 'utf8')).toBe(guideWith('Dated'));
  });

  const failures: [string, (request: IncomingMessage, response: ServerResponse) => void, RegExp][] = [
    ['a 500', serve('oops', 500), /answered 500/],
    ['a 404', serve('not here', 404), /answered 404/],
    ['an HTML error page with 200', serve('<html><body>Maintenance</body></html>'), /root element is <html>/],
    ['a guide with no programmes', serve('<tv></tv>'), /no programmes/],
    ['not XML at all', serve('{"error": "quota"}'), /./],
    ['a gzip file cut short', serve(gzipSync(guideWith('Cut')).subarray(0, 40)), /unexpected end|incorrect header|./],
    [
      'a connection dropped halfway',
      (_request, response) => {
        const whole = guideWith('Dropped');
        response.writeHead(200, { 'Content-Length': String(whole.length) });
        response.write(whole.slice(0, 100));
        setTimeout(() => response.socket?.destroy(), 20);
      },
      /terminated|aborted|closed|other side/i,
    ],
  ];
  for (const [what, respond, reason] of failures) {
    it(`when the URL answers ${what}, then the last good guide stays as it was`, async () => {
      answer = serve(guideWith('Good'));
      await fetchGuide(`${base}/guide.xml`, epgFile);
      const good = readFileSync(epgFile);
      answer = respond;
      const result = await fetchGuide(`${base}/guide.xml`, epgFile);
      expect(result.outcome).toBe('failed');
      expect(result.outcome === 'failed' && result.reason).toMatch(reason);
      expect(readFileSync(epgFile)).toEqual(good);
      expect(existsSync(`${epgFile}.gz`)).toBe(false);
      expect(existsSync(`${epgFile}.download`)).toBe(false);
    });
  }

  it('when the URL holds user:password@, then they are sent as Basic auth', async () => {
    answer = (request, response) => {
      if (request.headers.authorization !== `Basic ${Buffer.from('grabber:p@ss word').toString('base64')}`)
        return serve('', 401)(request, response);
      serve(guideWith('Behind auth'))(request, response);
    };
    const result = await fetchGuide(`${base.replace('//', '//grabber:p%40ss%20word@')}/guide.xml`, epgFile);
    expect(result.outcome).toBe('updated');
    expect(readFileSync(epgFile, 'utf8')).toBe(guideWith('Behind auth'));
  });

  it('when the download is larger than allowed, then it is refused and the last good guide stays', async () => {
    answer = serve(guideWith('Good'));
    await fetchGuide(`${base}/guide.xml`, epgFile);
    answer = serve(guideWith('x'.repeat(10_000)));
    const result = await fetchGuide(`${base}/guide.xml`, epgFile, { maxBytes: 5000 });
    expect(result).toEqual({ outcome: 'failed', reason: 'the guide is larger than 5000 bytes' });
    expect(readFileSync(epgFile, 'utf8')).toBe(guideWith('Good'));
  });

  it('when nothing listens at the URL, then the fetch fails with the reason and the log never shows the password in the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { logger, logs } = captureLogs();
    const url = `http://user:hunter2-secret@127.0.0.1:${port}/xmltv.php?username=u&password=hunter2-secret`;
    const result = await runGuideFetchOnce({ url, epgFile, cron: '* * * * *' }, logger);
    expect(result.outcome === 'failed' && result.reason).toMatch(/ECONNREFUSED/);
    expect(logs.text()).toContain('programme guide fetch failed: keeping the last good guide');
    expect(logs.text()).not.toContain('hunter2-secret');
  });
});

describe('a server with EPG_SOURCE_URL', () => {
  const files = tempDir('lineup-epg-source-');
  afterAll(() => files.cleanup());

  it('when the server starts, then it fetches the guide, serves it at /epg.xml and loads it', async () => {
    answer = serve(guideWith('From upstream'));
    const epgFile = join(files.dir, 'epg.xml');
    const lineup = await startTestLineup({ env: { EPG_FILE: epgFile, EPG_SOURCE_URL: `${base}/guide.xml` } });
    try {
      for (let waited = 0; lineup.context.guide.index.programmeCount === 0; waited += 20) {
        if (waited > 10_000) throw new Error('the guide never loaded');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(lineup.context.guide.index.programmes('news.test').map((p) => p.title)).toEqual(['From upstream']);
      const served = await fetchFrom(`${lineup.url}/epg.xml`);
      expect(served.status).toBe(200);
      expect(served.body).toBe(guideWith('From upstream'));
    } finally {
      await lineup.close();
    }
  });
});
