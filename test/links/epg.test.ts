import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import parser from 'iptv-playlist-parser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addSubscriber, applySql } from '../core/support.js';
import { fetchFrom, startTestLineup, type TestLineup, tempDir } from '../helpers/lineup.js';

const GUIDE = `<?xml version="1.0" encoding="UTF-8"?>
<tv><channel id="News.test"><display-name>News</display-name></channel>
<programme start="20261128120000 +0000" stop="20261128130000 +0000" channel="News.test"><title>Noon news</title></programme></tv>
`;

/** A raw request whose body stays as sent, so that gzip can be checked byte for byte. */
async function rawGet(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

describe('EPG', () => {
  const files = tempDir('lineup-epg-');
  const epgFile = join(files.dir, 'epg.xml');
  let lineup: TestLineup;
  beforeAll(async () => {
    lineup = await startTestLineup({ env: { EPG_URL: 'http://lineup.test/epg.xml', EPG_FILE: epgFile } });
    await applySql(lineup, "INSERT INTO channels (stream, name, number, tvg_id) VALUES ('news', 'News', 1, 'News.test');");
  });
  afterAll(async () => {
    await lineup.close();
    files.cleanup();
  });
  beforeEach(() => {
    rmSync(epgFile, { force: true });
    rmSync(`${epgFile}.gz`, { force: true });
  });

  it('when EPG_URL is set, then the header announces it as both url-tvg and x-tvg-url', async () => {
    const body = (await fetchFrom(await addSubscriber(lineup, `viewer-${Math.random().toString(36).slice(2)}`))).body;
    expect(body.split('\n')[0]).toBe('#EXTM3U url-tvg="http://lineup.test/epg.xml" x-tvg-url="http://lineup.test/epg.xml"');
    const { header } = parser.parse(body);
    expect(header.attrs).toEqual({ 'url-tvg': 'http://lineup.test/epg.xml', 'x-tvg-url': 'http://lineup.test/epg.xml' });
  });

  it('when there is no guide file, then /epg.xml answers 404', async () => {
    const response = await fetchFrom(`${lineup.url}/epg.xml`);
    expect(response.status).toBe(404);
    expect(response.body).toBe('No programme guide\n');
  });

  it('when the client accepts gzip, then the plain guide is sent gzipped and unpacks to the file', async () => {
    writeFileSync(epgFile, GUIDE);
    const response = await rawGet(`${lineup.url}/epg.xml`, { 'Accept-Encoding': 'gzip' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/xml; charset=utf-8');
    expect(response.headers.get('vary')).toBe('Accept-Encoding');
    // fetch unpacks gzip itself; what arrives must be the guide, and the header must say gzip.
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(response.bytes.toString('utf8')).toBe(GUIDE);
  });

  it('when the client does not accept gzip, then the guide arrives plain with its length', async () => {
    writeFileSync(epgFile, GUIDE);
    const response = await fetchFrom(`${lineup.url}/epg.xml`);
    expect(response.status).toBe(200);
    expect(response.headers['content-encoding']).toBeUndefined();
    expect(response.headers['content-length']).toBe(String(Buffer.byteLength(GUIDE)));
    expect(response.body).toBe(GUIDE);
  });

  it('when only epg.xml.gz exists, then a gzip client gets those very bytes and a plain client gets them unpacked', async () => {
    const packed = gzipSync(GUIDE);
    writeFileSync(`${epgFile}.gz`, packed);
    const gzipped = await fetchFrom(`${lineup.url}/epg.xml`, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers['content-length']).toBe(String(packed.length));
    const plain = await fetchFrom(`${lineup.url}/epg.xml`, { headers: { 'Accept-Encoding': 'identity' } });
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(GUIDE);
    expect(gunzipSync(packed).toString('utf8')).toBe(plain.body);
  });

  it('when EPG_FILE itself holds gzip, then a gzip client gets its bytes and a plain client gets them unpacked', async () => {
    const packed = gzipSync(GUIDE);
    writeFileSync(epgFile, packed);
    const gzipped = await rawGet(`${lineup.url}/epg.xml`, { 'Accept-Encoding': 'gzip' });
    expect(gzipped.headers.get('content-encoding')).toBe('gzip');
    expect(gzipped.bytes.toString('utf8')).toBe(GUIDE);
    const plain = await fetchFrom(`${lineup.url}/epg.xml`, { headers: { 'Accept-Encoding': 'identity' } });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(GUIDE);
  });

  it('when the client already has this version, then 304 without a body', async () => {
    writeFileSync(epgFile, GUIDE);
    const first = await fetchFrom(`${lineup.url}/epg.xml`);
    const lastModified = first.headers['last-modified'] as string;
    expect(lastModified).toBeTruthy();
    const again = await fetchFrom(`${lineup.url}/epg.xml`, { headers: { 'If-Modified-Since': lastModified } });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
  });
});

describe('EPG unset', () => {
  let lineup: TestLineup;
  beforeAll(async () => {
    lineup = await startTestLineup();
    await applySql(lineup, "INSERT INTO channels (stream, name) VALUES ('news', 'News');");
  });
  afterAll(() => lineup.close());

  it('when EPG_URL is not set, then the header is a bare #EXTM3U', async () => {
    const body = (await fetchFrom(await addSubscriber(lineup, 'plain'))).body;
    expect(body.startsWith('#EXTM3U\n')).toBe(true);
  });
});
