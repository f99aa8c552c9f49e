import type { Programme } from '../epg/guide-index.js';
import { xcDateTime } from './xc-time.js';

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** One listing entry: base64 title and description, times as UTC strings and Unix seconds as digit strings. */
function listing(programme: Programme) {
  const start = xcDateTime(programme.start);
  const end = xcDateTime(programme.stop);
  return {
    id: String(programme.id),
    epg_id: '1',
    title: base64(programme.title),
    lang: programme.lang,
    start,
    end,
    stop: end,
    description: base64(programme.description),
    channel_id: programme.channelId,
    start_timestamp: String(programme.start),
    stop_timestamp: String(programme.stop),
  };
}

/** `get_short_epg`: what is on now and next (the guide's `programmesFrom(now)`). */
export function shortEpg(programmes: readonly Programme[]): { epg_listings: object[] } {
  return { epg_listings: programmes.map(listing) };
}

/**
 * `get_simple_data_table`: the whole guide of the channel, past included (catch-up lists read it),
 * with `now_playing`, and `has_archive` for what is over and within the channel's catch-up days.
 */
export function simpleDataTable(programmes: readonly Programme[], now: number, catchupDays: number): { epg_listings: object[] } {
  const archiveFrom = now - catchupDays * 86_400;
  return {
    epg_listings: programmes.map((programme) => ({
      ...listing(programme),
      now_playing: programme.start <= now && now < programme.stop ? 1 : 0,
      has_archive: catchupDays > 0 && programme.stop <= now && programme.start >= archiveFrom ? 1 : 0,
    })),
  };
}
