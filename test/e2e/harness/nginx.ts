import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, stopProcess } from './processes.js';

const LUA_CHECK = join(dirname(fileURLToPath(import.meta.url)), 'flussonic-token.lua');
const MODULES = '/usr/lib/nginx/modules';

/** The servers one nginx process runs for the suite, each on its own loopback port. */
export interface NginxSites {
  /** Work dir: config, pid, logs and nginx's temp paths. */
  dir: string;
  /** Document root: `stream.ts` and one HLS directory per stream name. */
  media: string;
  /** Origin A, a Flussonic stand-in that checks securetoken exactly per the spec. */
  flussonic: { port: number; key: string; ipv6: boolean };
  /** Origin A configured with `no_check_ip`: the token hashes the literal `no_check_ip`. */
  flussonicNoCheckIp: { port: number; key: string };
  /** Origin B, nginx's own `secure_link` module: the nginx scheme's third-party verifier. */
  secureLink: { port: number; secret: string };
  /** A reverse proxy in front of Lineup that appends the client to `X-Forwarded-For`. */
  proxy: { port: number; upstream: string };
}

type Site = 'flussonic' | 'flussonicNoCheckIp' | 'secureLink' | 'proxy';

export interface RunningNginx {
  /** The site's access log: `STATUS REMOTE_ADDR PATH "USER_AGENT"` per request. */
  accessLog(site: Site): string;
  /** The last lines of error.log, for failure messages (it names why a token was refused). */
  errorTail(lines?: number): string;
  stop(): Promise<void>;
}

/** HLS playlists pass their query string (the token) on to segment URIs, as Flussonic does. */
const PASS_TOKEN_TO_SEGMENTS = `sub_filter '.ts' '.ts?$args';`;

function flussonicLocations(luaCheck: string): string {
  const check = `access_by_lua_file ${luaCheck};`;
  return `
    location ~ ^/.+/mpegts$ { ${check} try_files /stream.ts =404; }
    location ~ ^/.+/timeshift_abs-\\d+\\.ts$ { ${check} try_files /stream.ts =404; }
    location ~ ^/.+/archive-\\d+-\\d+\\.ts$ { ${check} try_files /stream.ts =404; }
    location ~ ^(?<stream_dir>/.+)/index-\\d+-\\d+\\.m3u8$ { ${check} ${PASS_TOKEN_TO_SEGMENTS} try_files $stream_dir/index.m3u8 =404; }
    location ~ \\.m3u8$ { ${check} ${PASS_TOKEN_TO_SEGMENTS} }
    location ~ \\.ts$ { ${check} }
    location / { return 404; }`;
}

/**
 * secure_link as the spec has it (403 for a bad hash, 410 once expired). Segments are checked
 * against their playlist's URI, since the query passed on to them was signed for the playlist.
 */
function secureLinkLocations(secret: string): string {
  const refuse = `if ($secure_link = "") { return 403; } if ($secure_link = "0") { return 410; }`;
  const check = (uri: string) =>
    `secure_link $arg_md5,$arg_expires; secure_link_md5 "$secure_link_expires${uri}$remote_addr ${secret}"; ${refuse}`;
  return `
    location ~ ^/.+/mpegts$ { ${check('$uri')} try_files /stream.ts =404; }
    location ~ \\.m3u8$ { ${check('$uri')} ${PASS_TOKEN_TO_SEGMENTS} }
    location ~ ^(?<stream_dir>/.+)/[^/]+\\.ts$ { ${check('$stream_dir/index.m3u8')} }
    location / { return 404; }`;
}

function renderConfig(sites: NginxSites): string {
  const { dir, media } = sites;
  const log = (name: string) => `access_log ${join(dir, `${name}.access.log`)} e2e;`;
  const origin = (listen: string[], name: string, body: string) => `
  server {
    ${listen.map((address) => `listen ${address};`).join(' ')}
    root ${media};
    set $request_path $uri;
    ${log(name)}
    ${body}
  }`;
  const { flussonic, flussonicNoCheckIp, secureLink, proxy } = sites;
  return `
${existsSync(join(MODULES, 'ndk_http_module.so')) ? `load_module ${join(MODULES, 'ndk_http_module.so')};` : ''}
load_module ${join(MODULES, 'ngx_http_lua_module.so')};
${process.getuid?.() === 0 ? 'user nobody nogroup;' : ''}
worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
events { worker_connections 256; }
http {
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  default_type application/octet-stream;
  client_body_temp_path ${join(dir, 'tmp', 'body')};
  proxy_temp_path ${join(dir, 'tmp', 'proxy')};
  fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(dir, 'tmp', 'scgi')};
  log_format e2e '$status $remote_addr $request_path "$http_user_agent"';
  sub_filter_types application/vnd.apple.mpegurl;
  sub_filter_once off;
  ${origin(
    [`127.0.0.1:${flussonic.port}`, ...(flussonic.ipv6 ? [`[::1]:${flussonic.port}`] : [])],
    'flussonic',
    `set $securetoken_key '${flussonic.key}'; set $no_check_ip 0; ${flussonicLocations(join(dir, 'flussonic-token.lua'))}`,
  )}
  ${origin(
    [`127.0.0.1:${flussonicNoCheckIp.port}`],
    'flussonicNoCheckIp',
    `set $securetoken_key '${flussonicNoCheckIp.key}'; set $no_check_ip 1; ${flussonicLocations(join(dir, 'flussonic-token.lua'))}`,
  )}
  ${origin([`127.0.0.1:${secureLink.port}`], 'secureLink', secureLinkLocations(secureLink.secret))}
  server {
    listen 127.0.0.1:${proxy.port};
    set $request_path $uri;
    ${log('proxy')}
    location / {
      proxy_pass http://${proxy.upstream};
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return `(${file} does not exist)`;
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Writes the config, starts nginx in the foreground, and waits until every site accepts. */
export async function startNginx(sites: NginxSites): Promise<RunningNginx> {
  const { dir } = sites;
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const config = join(dir, 'nginx.conf');
  // nginx's workers run as nobody, who may not read the checkout: they get their own copy.
  copyFileSync(LUA_CHECK, join(dir, 'flussonic-token.lua'));
  writeFileSync(config, renderConfig(sites));
  const errorLog = join(dir, 'error.log');
  const child: ChildProcess = startProcess('nginx', ['-p', dir, '-c', config, '-e', errorLog]);
  let output = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (output += text));

  const running: RunningNginx = {
    accessLog: (site) => {
      const file = join(dir, `${site}.access.log`);
      return existsSync(file) ? readFileSync(file, 'utf8') : '';
    },
    errorTail: (lines = 30) => `nginx error.log (last ${lines} lines):\n${tail(errorLog, lines)}`,
    stop: () => stopProcess(child),
  };

  const ports = [sites.flussonic.port, sites.flussonicNoCheckIp.port, sites.secureLink.port, sites.proxy.port];
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`nginx exited with ${child.exitCode}: ${output.trim()}\n${running.errorTail()}`);
    }
    if ((await Promise.all(ports.map(accepts))).every(Boolean)) return running;
    if (Date.now() > deadline) {
      await running.stop();
      throw new Error(`nginx did not accept on ports ${ports.join(', ')} within 15 s\n${running.errorTail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
