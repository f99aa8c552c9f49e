import type { SqlTime } from '../time.js';
import { lineText, urlLine } from './sanitize.js';

/**
 * The playlist a lapsed subscriber gets when EXPIRED_STREAM_URL is set: one entry whose name a
 * person can read in any app, pointing at the operator's information stream. Pure.
 */
export function expiredPlaylist(expiresAt: SqlTime, infoStreamUrl: string): string {
  const title = lineText(`Subscription expired on ${expiresAt.slice(0, 10)}`);
  return `#EXTM3U\n#EXTINF:-1 tvg-name="${title}" group-title="Subscription",${title}\n${urlLine(infoStreamUrl)}\n`;
}
