import type { StreamFormat } from './signing/origin.js';

/**
 * Every public path Lineup serves: the patterns the routers match, the links the playlist and the
 * CLI print, and the parsing of what a request names. Plain text in, plain values out: both the
 * HTTP layer and the domain use it.
 */

/** `/playlist/KEY.m3u` or `.m3u8`: GET, HEAD and POST (some apps send POST). */
export const PLAYLIST_ROUTE = '/playlist/:file';
/** Redirect mode's live link: `/play/KEY/CHANNEL.m3u8` or `.ts`. */
export const PLAY_LIVE_ROUTE = '/play/:key/:file';
/** Redirect mode's archive link: `/play/KEY/CHANNEL/index-UTC-DURATION.m3u8` or `…/timeshift_abs-UTC.ts`. */
export const PLAY_ARCHIVE_ROUTE = '/play/:key/:channel/:file';
export const EPG_PATH = '/epg.xml';
/** Xtream Codes API: the account, lists and guide (GET and POST). */
export const XC_PLAYER_API_PATH = '/player_api.php';
/** Xtream Codes M3U of `/live/…` links. */
export const XC_GET_PATH = '/get.php';
/** Xtream Codes XMLTV guide of the line's channels. */
export const XC_XMLTV_PATH = '/xmltv.php';
/** Xtream Codes live link: `/live/U/P/ID.ts` or `.m3u8`. */
export const XC_LIVE_ROUTE = '/live/:username/:password/:file';
/** Xtream Codes legacy live link, without `/live/`: `/U/P/ID` or `/U/P/ID.ts`. */
export const XC_LEGACY_ROUTE = '/:username/:password/:file';
/** Xtream Codes catch-up link: `/timeshift/U/P/DURATION_MINUTES/YYYY-MM-DD:HH-MM/ID.ts`. */
export const XC_TIMESHIFT_ROUTE = '/timeshift/:username/:password/:duration/:start/:file';
export const HEALTH_PATH = '/healthz';
export const METRICS_PATH = '/metrics';
/** The auth backend that streaming servers ask, one path per dialect. */
export const AUTH_FLUSSONIC_PATH = '/auth/flussonic';
export const AUTH_CESBO_PATH = '/auth/cesbo';
export const AUTH_NGINX_PATH = '/auth/nginx';

/** The URL a subscriber is given: its key in the path, since many apps drop a query string. */
export function playlistUrl(publicUrl: string, key: string): string {
  return `${publicUrl}/playlist/${key}.m3u`;
}

/** The key in a playlist file name (`KEY.m3u`, `KEY.m3u8`), or undefined for any other name. */
export function playlistKeyOf(file: string): string | undefined {
  return /^(.+)\.m3u8?$/.exec(file)?.[1];
}

const extensionOf = (format: StreamFormat) => (format === 'ts' ? 'ts' : 'm3u8');

/** A channel's redirect-mode live link; `key` may be a placeholder filled in per viewer. */
export function playLiveUrl(publicUrl: string, key: string, channelId: number, format: StreamFormat): string {
  return `${publicUrl}/play/${key}/${channelId}.${extensionOf(format)}`;
}

/** A channel's redirect-mode link to an archive file (or a template of one). */
export function playArchiveUrl(publicUrl: string, key: string, channelId: number, file: string): string {
  return `${publicUrl}/play/${key}/${channelId}/${file}`;
}

/** A channel's stable Xtream Codes live link, as get.php lists it; credentials go in unencoded (they are URL-safe). */
export function xcLiveUrl(publicUrl: string, username: string, password: string, channelId: number, format: StreamFormat): string {
  return `${publicUrl}/live/${username}/${password}/${channelId}.${extensionOf(format)}`;
}

/** What an XC live link's file names: `ID.ts`, `ID.m3u8`, or (legacy) a bare `ID`, which is MPEG-TS. */
export function parseXcLiveFile(file: string): { channelId: number; format: StreamFormat } | undefined {
  const match = /^(\d{1,15})(?:\.(m3u8|ts))?$/.exec(file);
  return match ? { channelId: Number(match[1]), format: match[2] === 'm3u8' ? 'hls' : 'ts' } : undefined;
}

/** A legacy XC link's file: a bare `ID` or `ID.ts` (HLS always came with `/live/`). */
const XC_LEGACY_FILE = /^\d{1,15}(?:\.ts)?$/;

/** What a live link's file names: `CHANNEL.m3u8` (HLS) or `CHANNEL.ts`; undefined for anything else. */
export function parsePlayLiveFile(file: string): { channelId: number; format: StreamFormat } | undefined {
  const match = /^(\d{1,15})\.(m3u8|ts)$/.exec(file);
  return match ? { channelId: Number(match[1]), format: match[2] === 'ts' ? 'ts' : 'hls' } : undefined;
}

/** A channel id as an archive link names it; undefined unless it is all digits. */
export function parsePlayChannel(segment: string): number | undefined {
  return /^\d{1,15}$/.test(segment) ? Number(segment) : undefined;
}

/** Paths whose second segment is a playlist key; the key must never reach a log line. */
const KEYED_PATH = /^\/(playlist|play)\/[^/]*/;

/** The first segment of every public path, in its one spelling. */
const FIXED_SEGMENTS = new Set(
  [
    PLAYLIST_ROUTE,
    PLAY_LIVE_ROUTE,
    EPG_PATH,
    HEALTH_PATH,
    METRICS_PATH,
    XC_PLAYER_API_PATH,
    XC_GET_PATH,
    XC_XMLTV_PATH,
    XC_LIVE_ROUTE,
    XC_TIMESHIFT_ROUTE,
    AUTH_NGINX_PATH,
  ].map((path) => path.split('/')[1]!),
);

/**
 * Whether a name cannot be the first segment of a legacy XC link (`/U/P/ID`): a fixed segment in
 * any case (canonicalPath lower-cases it, so `/Play/P/1` is a `/play` link), or a dot segment,
 * which canonicalPath resolves away. A subscriber with such a username could not use legacy links.
 */
export function isReservedPathSegment(name: string): boolean {
  return name === '.' || name === '..' || FIXED_SEGMENTS.has(name.toLowerCase());
}

/** XC paths whose second and third segments are a username and a password. */
const XC_CREDENTIAL_PATH = /^\/(live|timeshift)\/([^/]*)\/[^/]*/;
const XC_QUERY_PATHS = new Set([XC_PLAYER_API_PATH, XC_GET_PATH, XC_XMLTV_PATH]);

/** A legacy XC live link (`/U/P/ID[.ts]`), matched only where no fixed segment comes first. Expects a canonical path. */
export function isXcLegacyPath(path: string): boolean {
  const segments = path.split('/');
  return segments.length === 4 && !FIXED_SEGMENTS.has(segments[1]!) && XC_LEGACY_FILE.test(segments[3]!);
}

/**
 * What the log takes for a legacy XC link: the shape of one, whatever its file's case or extension
 * (`/U/P/1.TS`, `/U/P/1.m3u8`). Such a link is no route, but its middle segment is still a password.
 */
function isXcLegacyShaped(path: string): boolean {
  const segments = path.split('/');
  return segments.length === 4 && !FIXED_SEGMENTS.has(segments[1]!) && /^\d/.test(segments[3]!);
}

/**
 * A path that names Xtream Codes credentials, in its path or its query: guarded against guessing,
 * and logged without the password. Expects a canonical path.
 */
export function isXtreamPath(path: string): boolean {
  return XC_QUERY_PATHS.has(path) || isXcStreamPath(path);
}

/** An Xtream Codes stream link (`/live/…`, `/timeshift/…`, legacy `/U/P/ID`): a redirect, counted as `/play` is. Expects a canonical path. */
export function isXcStreamPath(path: string): boolean {
  return XC_CREDENTIAL_PATH.test(path) || isXcLegacyPath(path);
}

/** `%XX` that encodes an unreserved character (RFC 3986: letters, digits, `-._~`), which means the same unencoded. */
const ENCODED_UNRESERVED = /%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])/g;
const decodeEscape = (encoded: string) => String.fromCharCode(Number.parseInt(encoded.slice(1), 16));
/** Anything `canonicalPath` would change, but the case of the first segment. */
const NOT_CANONICAL = /%|\/\/|\/\.\.?(\/|$)|.\/$/;

/**
 * The one spelling of a request's path that the routers, the guess limiter, the request metrics
 * and the request log all see, decided here once (http/app.ts applies it before anything else):
 * unreserved characters percent-decoded, empty segments (doubled or trailing slashes) dropped,
 * `.` and `..` resolved, and the fixed first segment in lower case. Any spelling that a client
 * could use to reach a key is therefore the spelling that is limited, counted and redacted; the
 * routers match this spelling only. Other escapes (`%2F`, `%25`) stay as they are: decoding them
 * would change what a segment is.
 */
export function canonicalPath(path: string): string {
  if (!path.startsWith('/')) return path;
  if (!NOT_CANONICAL.test(path)) {
    const end = path.indexOf('/', 1);
    const first = end === -1 ? path.slice(1) : path.slice(1, end);
    if (FIXED_SEGMENTS.has(first) || !FIXED_SEGMENTS.has(first.toLowerCase())) return path;
  }
  // Until nothing changes: `%%37%30` decodes to `%70`, which must not be left for a later reader to decode again.
  let decoded = path;
  for (let previous = ''; decoded !== previous; ) {
    previous = decoded;
    decoded = decoded.replace(ENCODED_UNRESERVED, decodeEscape);
  }
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '..') segments.pop();
    else if (segment !== '' && segment !== '.') segments.push(segment);
  }
  const first = segments[0]?.toLowerCase();
  if (first !== undefined && FIXED_SEGMENTS.has(first)) segments[0] = first;
  return `/${segments.join('/')}`;
}

/** A path that carries a playlist key: logged without it, and guarded against key guessing. Expects a canonical path. */
export function isKeyedPath(path: string): boolean {
  return KEYED_PATH.test(path);
}

/** A playlist key's length (subscribers/keys.ts): a segment this long may be one. */
const KEY_LENGTH = 24;

/** Where an XC link, canonical or legacy, names its password: the segment's index in `path.split('/')`, or -1. */
function xcPasswordIndex(path: string): number {
  if (XC_CREDENTIAL_PATH.test(path)) return 3;
  return isXcLegacyShaped(path) ? 2 : -1;
}

/**
 * Whether a segment may be a key, however it is spelled: as long as one once decoded and stripped
 * of what a key never holds. Decoding and stripping only shorten it, so a shorter one never is.
 */
function mayBeKey(segment: string): boolean {
  return segment.length >= KEY_LENGTH && looselyDecoded(segment).replace(/[^A-Za-z0-9_-]/g, '').length >= KEY_LENGTH;
}

/** Decodes every escape it can, again and again, for recognising a segment however it is spelled; never throws. */
function looselyDecoded(segment: string): string {
  let decoded = segment;
  for (let previous = ''; decoded !== previous; ) {
    previous = decoded;
    decoded = decoded.replace(/%[0-9a-fA-F]{2}/g, decodeEscape);
  }
  return decoded;
}

/**
 * The path with its key, if any, replaced by `[key]`, whatever its spelling: the raw path may be
 * given. A canonical keyed path keeps its shape (`/play/[key]/1.m3u8`). Any other path is cut at
 * the first segment that mentions `play` in any case or encoding (`/x/playlist%2FKEY.m3u`,
 * `/PLAYLİST/KEY`), since what follows may be a key that a client spelled oddly, and any segment
 * as long as a key is replaced too.
 */
export function loggablePath(path: string): string {
  const canonical = canonicalPath(path);
  if (KEYED_PATH.test(canonical)) return canonical.replace(KEYED_PATH, '/$1/[key]');
  // An XC link with escapes left in it (`/live%2Falice%2FPASSWORD/1.ts`, `/timeshift/alice%2FPASSWORD%2F60/…`)
  // is no route, but it still names a password, shorter than a key: it is read both as it is and
  // as if decoded, and the password of either reading is cut.
  const readings = canonical.includes('%') ? [canonical, canonicalPath(looselyDecoded(canonical))] : [canonical];
  // Each reading shaped like an XC link is split once (every zap logs one): its password noted,
  // and the first one shown with its password cut.
  const passwords: string[] = [];
  let shown: string[] | undefined;
  for (const reading of readings) {
    const index = xcPasswordIndex(reading);
    if (index === -1) continue;
    const segments = reading.split('/');
    passwords.push(segments[index]!);
    if (shown !== undefined) continue;
    // The username stays, so that an operator can tell whose request it was; the password never does.
    segments[index] = '[password]';
    shown = segments;
  }
  if (shown !== undefined) {
    // A path only shaped like a legacy link may hold a key elsewhere (`/x/playlist%2FKEY.m3u` reads
    // as `/x/playlist/KEY.m3u`, whose KEY starts with a digit one time in six): cut as any other.
    return passwords.reduce(
      (logged, password) => (password.length < 4 ? logged : logged.replaceAll(password, '[password]')),
      shown.map((segment) => (mayBeKey(segment) ? '[key]' : segment)).join('/'),
    );
  }
  const segments = canonical.split('/');
  const cut = segments.findIndex((segment) => looselyDecoded(segment).toLowerCase().includes('play'));
  const kept = cut === -1 ? segments : [...segments.slice(0, cut), '[key]'];
  return kept.map((segment) => (mayBeKey(segment) ? '[key]' : segment)).join('/');
}

/** The auth backend's paths, whose query (Flussonic's facts, the viewer's whole query string) runs longer than a player's. Expects a canonical path. */
export function isAuthPath(path: string): boolean {
  return path.startsWith('/auth/');
}

/** Expects a canonical path. */
export function isPlaylistPath(path: string): boolean {
  return path.startsWith('/playlist/');
}
