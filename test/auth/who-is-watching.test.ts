import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { askFlussonic, askNginx, backendLineup, linksOf, requestUri, subscriberWithLinks, tokenOf } from './support.js';

const METRICS_TOKEN = 'metrics-token-0123456789';
let lineup: TestLineup;

beforeAll(async () => {
  lineup = await startTestLineup({ env: { METRICS_TOKEN } });
  await backendLineup(lineup);
  const alice = await subscriberWithLinks(lineup, 'alice');
  const bob = await subscriberWithLinks(lineup, 'bob', ['--max-connections', '2']);
  await subscriberWithLinks(lineup, 'carol');
  expect((await askNginx(lineup, requestUri(alice.links.get('news')!))).status).toBe(204);
  const friend = await linksOf(alice.playlistUrl, '127.0.0.2');
  expect((await askNginx(lineup, requestUri(friend.get('news')!), '127.0.0.2')).status).toBe(403);
  const token = tokenOf(bob.links.get('live/sport')!);
  expect((await askFlussonic(lineup, { name: 'live/sport', ip: '127.0.0.1', token, session_id: 'b-1', proto: 'mpegts' })).status).toBe(200);
});
afterAll(() => lineup.close());

describe('who is watching', () => {
  it('when lineup sessions runs, then it lists each open session with subscriber, IP, stream, protocol, dialect and times', async () => {
    const result = await lineup.cli(['sessions']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^USERNAME\s+IP\s+STREAM\s+PROTO\s+VIA\s+STARTED \(UTC\)\s+LAST SEEN \(UTC\)$/);
    expect(lines.find((line) => line.startsWith('alice'))).toMatch(
      /^alice\s+127\.0\.0\.1\s+news\s+-\s+nginx\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/,
    );
    expect(lines.find((line) => line.startsWith('bob'))).toMatch(/^bob\s+127\.0\.0\.1\s+live\/sport\s+mpegts\s+flussonic\s/);
    expect(lines.at(-1)).toBe('2 sessions');
  });

  it('when an XC app logs in as a subscriber who is streaming, then active_cons counts the sessions the auth backend holds', async () => {
    expect((await lineup.cli(['subscriber', 'rotate-password', 'bob', '--password', 'bobs-pass-1'])).code).toBe(0);
    expect((await lineup.cli(['subscriber', 'rotate-password', 'carol', '--password', 'carols-pass-1'])).code).toBe(0);
    const account = async (username: string, password: string) =>
      (
        JSON.parse((await fetchFrom(`${lineup.url}/player_api.php?username=${username}&password=${password}`)).body) as {
          user_info: { active_cons: string; max_connections: string };
        }
      ).user_info;
    expect(await account('bob', 'bobs-pass-1')).toMatchObject({ active_cons: '1', max_connections: '2' });
    expect(await account('carol', 'carols-pass-1')).toMatchObject({ active_cons: '0', max_connections: '1' });
  });

  it('when lineup sessions --user bob --json runs, then it prints only bob’s, as JSON', async () => {
    const result = await lineup.cli(['sessions', '--user', 'bob', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      expect.objectContaining({ username: 'bob', ip: '127.0.0.1', stream: 'live/sport', proto: 'mpegts', via: 'flussonic' }),
    ]);
  });

  it('when lineup sessions names an unknown user, then it exits 1 with one line naming it', async () => {
    const result = await lineup.cli(['sessions', '--user', 'nobody']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('lineup: no subscriber named "nobody"\n');
  });

  it('when lineup subscriber show runs, then it lists the IPs the subscriber streamed from in the last 24 h', async () => {
    const shown = await lineup.cli(['subscriber', 'show', 'alice']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^alice: active, expires .* max connections 1\n/);
    expect(shown.stdout).toMatch(
      /streamed from, last 24 h \(auth backend\): \nIP\s+FIRST SEEN \(UTC\)\s+LAST SEEN \(UTC\)\s+SESSIONS\n127\.0\.0\.1\s.*\s1\n/,
    );
    const json = JSON.parse((await lineup.cli(['subscriber', 'show', 'alice', '--json'])).stdout);
    expect(json).toMatchObject({ username: 'alice', state: 'active', streamedFrom: [{ ip: '127.0.0.1', sessions: 1 }] });
    expect((await lineup.cli(['subscriber', 'show', 'carol'])).stdout).toContain('streamed from, last 24 h (auth backend): none');
  });

  it('when /metrics is scraped, then it has the active sessions and subscribers, denials by reason and the decision latency', async () => {
    const response = await fetchFrom(`${lineup.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.body).toMatch(/^lineup_stream_sessions 2$/m);
    expect(response.body).toMatch(/^lineup_streaming_subscribers 2$/m);
    expect(response.body).toMatch(/^lineup_auth_denials_total\{reason="limit"\} 1$/m);
    expect(response.body).toMatch(/^lineup_auth_denials_total\{reason="forged"\} 0$/m);
    expect(response.body).toMatch(/^lineup_auth_checks_total\{dialect="nginx",outcome="allow"\} 1$/m);
    expect(response.body).toMatch(/^lineup_auth_decision_seconds_count 3$/m);
  });
});
