import type { Origin, StreamFormat } from '../signing/origin.js';

/**
 * Flussonic's archive (DVR) files, with the placeholders that players fill in: Kodi IPTV Simple,
 * TiviMate and OTT Navigator replace `{utc}` with the programme's start (Unix seconds) and
 * `{duration}` with its length in seconds.
 */
export const CATCHUP_FILE_TEMPLATE: Readonly<Record<StreamFormat, string>> = {
  hls: 'index-{utc}-{duration}.m3u8',
  ts: 'timeshift_abs-{utc}.ts',
};

/** The `catchup` attribute players know for Flussonic, per stream format. */
const CATCHUP_TYPE: Readonly<Record<StreamFormat, string>> = { hls: 'flussonic', ts: 'flussonic-ts' };

/**
 * The archive files a player may ask Lineup to redirect to: the two shapes Lineup announces,
 * filled in, and Flussonic's MPEG-TS window (`archive-FROM-DURATION.ts`) that an Xtream Codes
 * `/timeshift/…` link lands on. Digits only, so nothing else can be smuggled into the signed
 * origin path.
 */
const ARCHIVE_FILE = /^(?:index-\d{1,12}-\d{1,7}\.m3u8|timeshift_abs-\d{1,12}\.ts|archive-\d{1,12}-\d{1,7}\.ts)$/;

/** Flussonic's MPEG-TS archive of one window: from `start` (Unix seconds) for `seconds`. */
export function archiveWindowFile(start: number, seconds: number): string {
  return `archive-${start}-${seconds}.ts`;
}

export function isArchiveFile(file: string): boolean {
  return ARCHIVE_FILE.test(file);
}

/**
 * ` catchup="…" catchup-days="N" catchup-source="…"` for an EXTINF line. `source` must already be
 * safe for a quoted attribute (a sanitised URL line).
 */
export function catchupAttributes(days: number, format: StreamFormat, source: string): string {
  return ` catchup="${CATCHUP_TYPE[format]}" catchup-days="${days}" catchup-source="${source}"`;
}

/**
 * Whether a playlist can carry a signed catch-up template for this origin. Only when the token
 * does not depend on the path: Flussonic's securetoken over the stream name (or id) is valid for
 * every file of the stream, archive included, and so is a backend token, which names no stream.
 * nginx secure_link and path-subject tokens cover one exact path, which a `{utc}` template is not;
 * such origins get catch-up in redirect mode only.
 */
export function signsCatchupTemplate(origin: Origin): boolean {
  return origin.scheme === 'backend' || (origin.scheme === 'flussonic' && origin.hashSubject !== 'path');
}
