import { xcDateTime } from './xc-time.js';

/** One programme of a channel's guide, as the listings need it. */
export interface GuideProgramme {
  /** Unix seconds. */
  start: number;
  stop: number;
  title: string;
  description: string;
  lang: string;
}

/**
 * The programme guide the listings read: a channel's programmes by its tvg_id, in start order.
 * Empty for a channel the guide does not know.
 */
export interface ProgrammeGuide {
  programmesOf(tvgId: string): readonly GuideProgramme[];
}

/** No guide configured: every listing is `{"epg_listings": []}`, as clients expect. */
export const NO_GUIDE: ProgrammeGuide = { programmesOf: () => [] };

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** One listing entry: base64 title and description, times as UTC strings and Unix seconds as digit strings. */
function listing(programme: GuideProgramme, tvgId: string) {
  const start = xcDateTime(programme.start);
  const end = xcDateTime(programme.stop);
  return {
    id: String(programme.start),
    epg_id: '1',
    title: base64(programme.title),
    lang: programme.lang,
    start,
    end,
    stop: end,
    description: base64(programme.description),
    channel_id: tvgId,
    start_timestamp: String(programme.start),
    stop_timestamp: String(programme.stop),
  };
}

/** `get_short_epg`: what is on now and next, `limit` entries at most. */
export function shortEpg(programmes: readonly GuideProgramme[], tvgId: string, now: number, limit: number): { epg_listings: object[] } {
  const upcoming: object[] = [];
  for (const programme of programmes) {
    if (upcoming.length >= limit) break;
    if (programme.stop > now) upcoming.push(listing(programme, tvgId));
  }
  return { epg_listings: upcoming };
}

/**
 * `get_simple_data_table`: the whole guide of the channel, past included (catch-up lists read it),
 * with `now_playing` and `has_archive` (within the channel's catch-up days, and over).
 */
export function simpleDataTable(
  programmes: readonly GuideProgramme[],
  tvgId: string,
  now: number,
  catchupDays: number,
): { epg_listings: object[] } {
  const archiveFrom = now - catchupDays * 86_400;
  return {
    epg_listings: programmes.map((programme) => ({
      ...listing(programme, tvgId),
      now_playing: programme.start <= now && now < programme.stop ? 1 : 0,
      has_archive: catchupDays > 0 && programme.stop <= now && programme.start >= archiveFrom ? 1 : 0,
    })),
  };
}
