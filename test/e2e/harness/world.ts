import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastLine, onServer, startTestLineup, type TestLineup, tempDir } from '../../helpers/lineup.js';
import { makeTestMedia } from './media.js';
import { type RunningNginx, startNginx } from './nginx.js';
import { canListen, freePorts } from './ports.js';
import { type Relay, startRelay } from './relay.js';
import { teardownStack } from './teardown.js';

export const SECURETOKEN_KEY = 'e2e-securetoken-key';
export const SECURE_LINK_SECRET = 'e2e-secure-link-secret';
/** Channels on origin A (the Flussonic stand-in), one of them nested. */
export const FLUSSONIC_STREAMS = ['bbc', 'live/ch1'] as const;
/** Channels on origin B (nginx secure_link), in the same playlist. */
export const SECURE_LINK_STREAMS = ['movies', 'live/ch2'] as const;
const SECURE_LINK_ORIGIN = 'secure-link';

/** Everything the end-to-end cases talk to. */
export interface World {
  dir: string;
  nginx: RunningNginx;
  ipv6: boolean;
  /** Lineup with IP binding, channels on both origins. */
  main: TestLineup;
  mainPlaylist: string;
  /** The main Lineup's subscriber `alice`: her Xtream Codes password. */
  mainXcPassword: string;
  /** Lineup with IP_BINDING=none, against the no_check_ip origin. */
  noCheckIpPlaylist: string;
  /** Lineup with TRUST_PROXY, reached through the nginx reverse proxy. */
  proxiedPlaylist: string;
  /** Lineup on [::1] against origin A on [::1]; absent without IPv6. */
  ipv6Playlist?: string;
  originPort: { flussonic: number; flussonicNoCheckIp: number; secureLink: number };
  /** Relays that reach each origin from 127.0.0.2, for players that cannot pick a source address. */
  from127002: { flussonic: Relay; flussonicNoCheckIp: Relay; secureLink: Relay };
  /** The last log lines of every Lineup, for failure messages. */
  lineupLogTail(lines?: number): string;
  stop(): Promise<void>;
}

async function addSubscriber(lineup: TestLineup, sqlFiles: string[]): Promise<{ playlist: string; xcPassword: string }> {
  let stdout = '';
  for (const argv of [
    ['sql', ...sqlFiles],
    ['subscriber', 'add', 'alice', '--days', '30'],
  ]) {
    const result = await lineup.cli(argv);
    if (result.code !== 0) throw new Error(`lineup ${argv.join(' ')} failed: ${result.stderr.trim()}`);
    stdout = result.stdout;
  }
  return { playlist: onServer(lineup, lastLine(stdout)), xcPassword: /, password (\S+)$/m.exec(stdout)?.[1] ?? '' };
}

/**
 * Starts, once per run: the test media, one nginx with origin A (strict and no_check_ip), origin
 * B and the reverse proxy, four Lineups, and the relays. On a failure halfway, whatever did start
 * is stopped before the error surfaces.
 */
export async function startWorld(): Promise<World> {
  const { dir, cleanup } = tempDir('lineup-e2e-');
  // nginx's workers and VLC run as nobody: they must reach the media and their home.
  chmodSync(dir, 0o755);
  const { stops, stop } = teardownStack(cleanup);
  try {
    const media = join(dir, 'media');
    mkdirSync(media);
    await makeTestMedia(media, [...FLUSSONIC_STREAMS, ...SECURE_LINK_STREAMS]);
    const ipv6 = await canListen('::1');
    const [flussonic, flussonicNoCheckIp, secureLink, proxy] = (await freePorts(4)) as [number, number, number, number];

    const channelsSql = join(dir, 'channels.sql');
    writeFileSync(
      channelsSql,
      `INSERT INTO channels (stream, name, number) VALUES ${FLUSSONIC_STREAMS.map((s, i) => `('${s}', 'A ${s}', ${i + 1})`).join(', ')};\n`,
    );
    const secureLinkSql = join(dir, 'secure-link.sql');
    writeFileSync(
      secureLinkSql,
      `INSERT INTO origins (name, base_url, scheme, secret) VALUES ('${SECURE_LINK_ORIGIN}', 'http://127.0.0.1:${secureLink}', 'nginx', '${SECURE_LINK_SECRET}');\n` +
        `INSERT INTO channels (stream, name, number, origin) VALUES ${SECURE_LINK_STREAMS.map((s, i) => `('${s}', 'B ${s}', ${i + 11}, '${SECURE_LINK_ORIGIN}')`).join(', ')};\n`,
    );

    const lineups: TestLineup[] = [];
    const lineup = async (env: NodeJS.ProcessEnv, sql: string[]) => {
      const started = await startTestLineup({ env: { SECURETOKEN_KEY, ...env } });
      lineups.push(started);
      stops.push(() => started.close());
      return { lineup: started, ...(await addSubscriber(started, sql)) };
    };
    const main = await lineup({ ORIGIN_URL: `http://127.0.0.1:${flussonic}` }, [channelsSql, secureLinkSql]);
    const noCheckIp = await lineup({ ORIGIN_URL: `http://127.0.0.1:${flussonicNoCheckIp}`, IP_BINDING: 'none' }, [channelsSql]);
    const proxied = await lineup({ ORIGIN_URL: `http://127.0.0.1:${flussonic}`, TRUST_PROXY: '127.0.0.1' }, [channelsSql]);
    const onIpv6 = ipv6 ? await lineup({ HOST: '::1', ORIGIN_URL: `http://[::1]:${flussonic}` }, [channelsSql]) : undefined;

    const nginxDir = join(dir, 'nginx');
    mkdirSync(nginxDir);
    const nginx = await startNginx({
      dir: nginxDir,
      media,
      flussonic: { port: flussonic, key: SECURETOKEN_KEY, ipv6 },
      flussonicNoCheckIp: { port: flussonicNoCheckIp, key: SECURETOKEN_KEY },
      secureLink: { port: secureLink, secret: SECURE_LINK_SECRET },
      proxy: { port: proxy, upstream: new URL(proxied.lineup.url).host },
    });
    stops.push(() => nginx.stop());

    const relay = async (port: number) => {
      const started = await startRelay({ host: '127.0.0.1', port }, '127.0.0.2');
      stops.push(() => started.close());
      return started;
    };
    const proxiedUrl = new URL(proxied.playlist);
    proxiedUrl.host = `127.0.0.1:${proxy}`;
    return {
      dir,
      nginx,
      ipv6,
      main: main.lineup,
      mainPlaylist: main.playlist,
      mainXcPassword: main.xcPassword,
      noCheckIpPlaylist: noCheckIp.playlist,
      proxiedPlaylist: proxiedUrl.href,
      ...(onIpv6 ? { ipv6Playlist: onIpv6.playlist } : {}),
      originPort: { flussonic, flussonicNoCheckIp, secureLink },
      from127002: {
        flussonic: await relay(flussonic),
        flussonicNoCheckIp: await relay(flussonicNoCheckIp),
        secureLink: await relay(secureLink),
      },
      lineupLogTail: (lines = 5) =>
        lineups.map((one) => `Lineup ${one.url} log (last ${lines} lines):\n${one.logs.lines.slice(-lines).join('\n')}`).join('\n'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The stream URLs of an M3U, in order. */
export function streamUrls(m3u: string): string[] {
  return m3u.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}
