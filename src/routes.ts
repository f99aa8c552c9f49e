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
export const HEALTH_PATH = '/healthz';
export const METRICS_PATH = '/metrics';

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

/** A path that carries a playlist key: logged without it, and guarded against key guessing. */
export function isKeyedPath(path: string): boolean {
  return KEYED_PATH.test(path);
}

/** The path with its key, if any, replaced by `[key]`. */
export function loggablePath(path: string): string {
  return path.replace(KEYED_PATH, '/$1/[key]');
}

export function isPlaylistPath(path: string): boolean {
  return path.startsWith('/playlist/');
}
