import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname, join } from 'node:path';
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

/**
 * `accessLog(site)`: `STATUS REMOTE_ADDR PATH "USER_AGENT"` per request; `errorTail()`: the last
 * lines of error.log, for failure messages (it names why a token was refused).
 */
export type RunningNginx = NginxProcess<Site>;

/** HLS playlists pass their query string (the token) on to segment URIs, as Flussonic does. */
export const PASS_TOKEN_TO_SEGMENTS = `sub_filter '.ts' '.ts?$args';`;

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
${nginxPreamble(dir)}
http {
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  default_type application/octet-stream;
  ${nginxTempPaths(dir)}
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

/** The lines every config the suite writes begins with: the Lua module, the user, the pid and the logs. */
export function nginxPreamble(dir: string): string {
  return `
${existsSync(join(MODULES, 'ndk_http_module.so')) ? `load_module ${join(MODULES, 'ndk_http_module.so')};` : ''}
load_module ${join(MODULES, 'ngx_http_lua_module.so')};
${process.getuid?.() === 0 ? 'user nobody nogroup;' : ''}
worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
events { worker_connections 256; }`;
}

/** nginx's temp paths under `dir`, inside an `http` block. */
export function nginxTempPaths(dir: string): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `${kind}_temp_path ${join(dir, 'tmp', kind === 'client_body' ? 'body' : kind)};`)
    .join('\n  ');
}

/** A running nginx whose sites log to `dir/SITE.access.log`. */
export interface NginxProcess<S extends string> {
  /** The site's access log, one line per request in the format its config chose. */
  accessLog(site: S): string;
  /** The last lines of error.log, for failure messages. */
  errorTail(lines?: number): string;
  stop(): Promise<void>;
}

/**
 * Writes `config` to `dir`, copies `files` (Lua scripts) beside it for nginx's workers, who run as
 * nobody and may not read the checkout, starts nginx in the foreground, and waits until every port
 * accepts.
 */
export async function runNginx<S extends string>(
  dir: string,
  config: string,
  ports: number[],
  files: string[] = [],
): Promise<NginxProcess<S>> {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const configFile = join(dir, 'nginx.conf');
  for (const file of files) copyFileSync(file, join(dir, basename(file)));
  writeFileSync(configFile, config);
  const errorLog = join(dir, 'error.log');
  const child: ChildProcess = startProcess('nginx', ['-p', dir, '-c', configFile, '-e', errorLog]);
  let output = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (output += text));

  const running: NginxProcess<S> = {
    accessLog: (site) => {
      const file = join(dir, `${site}.access.log`);
      return existsSync(file) ? readFileSync(file, 'utf8') : '';
    },
    errorTail: (lines = 30) => `nginx error.log (last ${lines} lines):\n${tail(errorLog, lines)}`,
    stop: () => stopProcess(child),
  };

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

/** Writes the config, starts nginx in the foreground, and waits until every site accepts. */
export function startNginx(sites: NginxSites): Promise<RunningNginx> {
  const ports = [sites.flussonic.port, sites.flussonicNoCheckIp.port, sites.secureLink.port, sites.proxy.port];
  return runNginx<Site>(sites.dir, renderConfig(sites), ports, [LUA_CHECK]);
}
