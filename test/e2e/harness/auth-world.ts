import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestLineup, type TestLineup, tempDir } from '../../helpers/lineup.js';
import { makeTestMedia } from './media.js';
import { type NginxProcess, nginxPreamble, nginxTempPaths, PASS_TOKEN_TO_SEGMENTS, runNginx } from './nginx.js';
import { freePorts } from './ports.js';
import { type Relay, startRelay } from './relay.js';
import { teardownStack } from './teardown.js';

const FLUSSONIC_BACKEND_LUA = join(dirname(fileURLToPath(import.meta.url)), 'flussonic-backend.lua');

/** X-AuthDuration that Lineup sends (AUTH_DURATION): how long the Flussonic stand-in holds a decision, and a replaced session stays refused. */
const AUTH_DURATION = 3;
/** How long nginx's proxy_cache holds an auth_request decision. */
const NGINX_DECISION_CACHE = 2;
/** SESSION_IDLE: long enough that a session opened by one case still counts during the next step. */
const SESSION_IDLE = 30;

/** The two ways a streaming server asks Lineup, each an origin of scheme `backend` in front of the same media. */
export type AuthSite = 'authRequest' | 'flussonicBackend';

export interface AuthOrigin {
  site: AuthSite;
  /** The origin's row name in Lineup. */
  name: string;
  port: number;
  /** Five channels, one of them nested, for zapping. */
  streams: readonly string[];
  /** How long the server holds a decision before Lineup is asked again. */
  decisionSeconds: number;
  /** The same origin, reached from 127.0.0.2: another household. */
  from127002: Relay;
}

export interface AuthWorld {
  lineup: TestLineup;
  nginx: NginxProcess<AuthSite>;
  origins: Record<AuthSite, AuthOrigin>;
  lineupLogTail(lines?: number): string;
  stop(): Promise<void>;
}

const STREAMS: Record<AuthSite, readonly string[]> = {
  authRequest: ['n1', 'n2', 'n3', 'n4', 'live/n5'],
  flussonicBackend: ['f1', 'f2', 'f3', 'f4', 'live/f5'],
};
const ORIGIN_NAMES: Record<AuthSite, string> = { authRequest: 'edge-nginx', flussonicBackend: 'edge-flussonic' };

/**
 * nginx `auth_request` in front of the media, with Lineup's `/auth/nginx` as the backend and a
 * short proxy_cache of its decisions, configured as the README shows (Lineup allows with 204):
 * segments are checked too.
 */
function authRequestServer(port: number, media: string, lineup: string, logFile: string): string {
  const check = 'auth_request /_lineup_auth;';
  return `
  server {
    listen 127.0.0.1:${port};
    root ${media};
    access_log ${logFile} e2e;
    location = /_lineup_auth {
      internal;
      proxy_pass http://${lineup}/auth/nginx;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_cache lineup_auth;
      proxy_cache_key "$request_uri $remote_addr";
      proxy_cache_valid 204 403 ${NGINX_DECISION_CACHE}s;
    }
    location ~ ^/.+/mpegts$ { ${check} try_files /stream.ts =404; }
    location ~ \\.m3u8$ { ${check} ${PASS_TOKEN_TO_SEGMENTS} }
    location ~ \\.ts$ { ${check} }
    location / { return 404; }
  }`;
}

/** The Flussonic stand-in: Lua asks Lineup's `/auth/flussonic` as Flussonic's on_play would (flussonic-backend.lua). */
function flussonicBackendServer(port: number, media: string, lineup: string, logFile: string, lua: string): string {
  const check = `access_by_lua_file ${lua};`;
  return `
  server {
    listen 127.0.0.1:${port};
    root ${media};
    set $auth_by '-';
    set $deny_seconds ${AUTH_DURATION};
    access_log ${logFile} e2e_auth;
    location = /_lineup_flussonic {
      internal;
      proxy_pass http://${lineup}/auth/flussonic;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }
    location ~ ^/.+/mpegts$ { ${check} try_files /stream.ts =404; }
    location ~ \\.m3u8$ { ${check} ${PASS_TOKEN_TO_SEGMENTS} }
    location ~ \\.ts$ { ${check} }
    location / { return 404; }
  }`;
}

function renderConfig(dir: string, media: string, lineup: string, ports: Record<AuthSite, number>): string {
  const log = (site: AuthSite) => join(dir, `${site}.access.log`);
  return `
${nginxPreamble(dir)}
http {
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  default_type application/octet-stream;
  ${nginxTempPaths(dir)}
  log_format e2e '$status $remote_addr $uri';
  log_format e2e_auth '$status $remote_addr $uri $auth_by';
  sub_filter_types application/vnd.apple.mpegurl;
  sub_filter_once off;
  proxy_cache_path ${join(dir, 'auth-cache')} levels=1 keys_zone=lineup_auth:1m max_size=10m inactive=60s use_temp_path=off;
  lua_shared_dict flussonic_sessions 1m;
  ${authRequestServer(ports.authRequest, media, lineup, log('authRequest'))}
  ${flussonicBackendServer(ports.flussonicBackend, media, lineup, log('flussonicBackend'), join(dir, 'flussonic-backend.lua'))}
}
`;
}

/**
 * Starts, once per run: the test media, Lineup with an origin of scheme `backend` per site and five
 * channels on each (none in a package), one nginx with both sites, and a relay from 127.0.0.2 to
 * each. On a failure halfway, whatever did start is stopped before the error surfaces.
 */
export async function startAuthWorld(): Promise<AuthWorld> {
  const { dir, cleanup } = tempDir('lineup-e2e-auth-');
  chmodSync(dir, 0o755);
  const { stops, stop } = teardownStack(cleanup);
  try {
    const media = join(dir, 'media');
    mkdirSync(media);
    await makeTestMedia(media, [...STREAMS.authRequest, ...STREAMS.flussonicBackend]);
    const [authRequest, flussonicBackend] = (await freePorts(2)) as [number, number];
    const ports: Record<AuthSite, number> = { authRequest, flussonicBackend };

    const lineup = await startTestLineup({
      env: { AUTH_DURATION: String(AUTH_DURATION), SESSION_IDLE: String(SESSION_IDLE) },
    });
    stops.push(() => lineup.close());
    const sites = Object.keys(ports) as AuthSite[];
    const sql = join(dir, 'backend-origins.sql');
    writeFileSync(
      sql,
      sites
        .map(
          (site, s) =>
            `INSERT INTO origins (name, base_url, scheme, secret) VALUES ('${ORIGIN_NAMES[site]}', 'http://127.0.0.1:${ports[site]}', 'backend', 'e2e-backend-secret-${site}');\n` +
            `INSERT INTO channels (stream, name, number, origin) VALUES ${STREAMS[site].map((stream, i) => `('${stream}', '${site} ${stream}', ${s * 10 + i + 1}, '${ORIGIN_NAMES[site]}')`).join(', ')};\n`,
        )
        .join(''),
    );
    const applied = await lineup.cli(['sql', sql]);
    if (applied.code !== 0) throw new Error(`lineup sql ${sql} failed: ${applied.stderr.trim()}`);

    const nginxDir = join(dir, 'nginx');
    mkdirSync(nginxDir);
    const nginx = await runNginx<AuthSite>(
      nginxDir,
      renderConfig(nginxDir, media, new URL(lineup.url).host, ports),
      [authRequest, flussonicBackend],
      [FLUSSONIC_BACKEND_LUA],
    );
    stops.push(() => nginx.stop());

    const origins = {} as Record<AuthSite, AuthOrigin>;
    for (const site of sites) {
      const relay = await startRelay({ host: '127.0.0.1', port: ports[site] }, '127.0.0.2');
      stops.push(() => relay.close());
      origins[site] = {
        site,
        name: ORIGIN_NAMES[site],
        port: ports[site],
        streams: STREAMS[site],
        decisionSeconds: site === 'authRequest' ? NGINX_DECISION_CACHE : AUTH_DURATION,
        from127002: relay,
      };
    }
    return {
      lineup,
      nginx,
      origins,
      lineupLogTail: (lines = 10) => `Lineup log (last ${lines} lines):\n${lineup.logs.lines.slice(-lines).join('\n')}`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
