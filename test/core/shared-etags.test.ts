import { afterEach, describe, expect, it } from 'vitest';
import { addSubscriber, applySql } from '../core/support.js';
import { type BytesResult, fetchBytes, lastLine, onServer, startTestLineup, type TestLineup } from '../helpers/lineup.js';

// 2026-11-28 12:00:00 UTC, a multiple of 300: every server below stays in one token bucket.
const NOON = 1_795_867_200;
const clock = () => NOON;

const LINEUP = `
  INSERT INTO packages (name) VALUES ('basic'), ('sports');
  INSERT INTO channels (stream, name, number) VALUES ('news', 'News', 1), ('live/sport', 'Sport', 2);
  INSERT INTO package_channels (package_id, channel_id) VALUES (1, 1), (2, 2);`;

let running: TestLineup[] = [];
afterEach(async () => {
  // The first made the database file: it goes last.
  for (const lineup of running.reverse()) await lineup.close();
  running = [];
});

/** A server on `dbPath` (a new database when absent), with the same settings as every other unless `env` says otherwise. */
async function server(env: NodeJS.ProcessEnv = {}, dbPath?: string): Promise<TestLineup> {
  const lineup = await startTestLineup({ env: { TOKEN_BUCKET: '300', ...env, ...(dbPath ? { LINEUP_DB: dbPath } : {}) }, clock });
  running.push(lineup);
  return lineup;
}

/** Two servers configured alike on one database file, as two nodes (or two hosts' workers) would be. */
async function twoNodes(env: NodeJS.ProcessEnv = {}) {
  const a = await server(env);
  await applySql(a, LINEUP);
  const url = await addSubscriber(a, 'alice', '--days', '30', '--package', 'basic');
  const b = await server(env, a.dbPath);
  return { a, b, path: new URL(url).pathname };
}

const on = (lineup: TestLineup, path: string) => onServer(lineup, `http://x${path}`);
const revalidate = (lineup: TestLineup, path: string, first: BytesResult) =>
  fetchBytes(on(lineup, path), { headers: { 'If-None-Match': String(first.headers.etag) } });

describe('ETags that every node shares', () => {
  it("when a refresh lands on another server of the same database and settings, then it is answered 304 for the first one's ETag, and both render the same bytes", async () => {
    const { a, b, path } = await twoNodes();
    const fromA = await fetchBytes(on(a, path));
    const fromB = await fetchBytes(on(b, path));
    expect(fromA.status).toBe(200);
    expect(fromB.headers.etag).toBe(fromA.headers.etag);
    expect(fromB.body.equals(fromA.body)).toBe(true);
    const revalidated = await revalidate(b, path, fromA);
    expect(revalidated.status).toBe(304);
    expect((await revalidate(a, path, fromB)).status).toBe(304);
  });

  it("when an expired subscriber's placeholder is fetched from one server, then the other answers 304 for its ETag", async () => {
    const { a, b } = await twoNodes({ EXPIRED_STREAM_URL: 'http://lineup.test/expired.ts' });
    const url = await addSubscriber(a, 'bob', '--until', '2026-01-01', '--allow-past');
    const path = new URL(url).pathname;
    const fromA = await fetchBytes(on(a, path));
    expect(String(fromA.body)).toContain('http://lineup.test/expired.ts');
    expect((await revalidate(b, path, fromA)).status).toBe(304);
  });

  it('when the subscriber is given another package, then both servers answer the new bytes under a new ETag', async () => {
    const { a, b, path } = await twoNodes();
    const before = await fetchBytes(on(a, path));
    expect((await a.cli(['subscriber', 'packages', 'alice', '--add', 'sports'])).code).toBe(0);
    for (const lineup of [a, b]) {
      const after = await revalidate(lineup, path, before);
      expect(after.status).toBe(200);
      expect(after.headers.etag).not.toBe(before.headers.etag);
      expect(String(after.body)).toContain('Sport');
    }
  });

  it("when the subscriber's key is rotated, then the new URL's playlist has another ETag, and redirect-mode links carry the new key", async () => {
    const { a, b, path } = await twoNodes({ LINK_MODE: 'redirect' });
    const before = await fetchBytes(on(a, path));
    const rotated = await a.cli(['subscriber', 'rotate', 'alice']);
    expect(rotated.code).toBe(0);
    const newPath = new URL(lastLine(rotated.stdout)).pathname;
    for (const lineup of [a, b]) {
      const after = await revalidate(lineup, newPath, before);
      expect(after.status).toBe(200);
      expect(after.headers.etag).not.toBe(before.headers.etag);
      expect(String(after.body)).not.toBe(String(before.body));
    }
  });

  it('when the lineup changes, then both servers answer the new bytes under a new ETag', async () => {
    const { a, b, path } = await twoNodes();
    const before = await fetchBytes(on(b, path));
    await applySql(a, "INSERT INTO channels (stream, name, number) VALUES ('late', 'Late', 9);");
    for (const lineup of [a, b]) {
      const after = await revalidate(lineup, path, before);
      expect(after.status).toBe(200);
      expect(String(after.body)).toContain('Late');
    }
  });

  it.each([
    ['EPG_URL', { EPG_URL: 'http://guide.test/epg.xml' }],
    ['ORIGIN_URL', { ORIGIN_URL: 'http://other-origin.test' }],
    ['SECURETOKEN_KEY', { SECURETOKEN_KEY: 'another-securetoken-key' }],
    ['TOKEN_TTL', { TOKEN_TTL: '7200' }],
    ['LINK_MODE', { LINK_MODE: 'redirect' }],
  ])('when a server of the same database has another %s, then it gives another ETag and never a 304 for the old bytes', async (_, env) => {
    const { a, path } = await twoNodes();
    const before = await fetchBytes(on(a, path));
    const other = await server(env, a.dbPath);
    const after = await revalidate(other, path, before);
    expect(after.status).toBe(200);
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect(after.body.equals(before.body)).toBe(false);
  });
});
