import type { Channel } from '../playlist/lineup.js';

/** Where category ids and channels' added times come from (db/xc-catalog-store.ts). */
export interface CatalogSource {
  /** Every stored category: id → group_title ('' for channels without a group). */
  categories(): Map<number, string>;
  /** Per channel: its category id and when it was added (Unix seconds). */
  channelPlacements(): Map<number, { categoryId: number; added: number }>;
}

/** The name of the category of channels without a group: they still belong to a real one. */
export const UNGROUPED_CATEGORY_NAME = 'Uncategorized';

/** One package set's lists as XC clients read them, compiled once per lineup change. */
export interface CompiledCatalog {
  categories: Buffer;
  streams: Buffer;
  /** `get_live_streams&category_id=C`, by C as sent (a digit string). */
  streamsByCategory: Map<string, Buffer>;
  /** The channels this package set sees, by stream_id. */
  channels: Map<number, Channel>;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

/** A channel's name as apps show it: never empty. */
export function displayName(channel: Channel): string {
  return channel.name.trim() === '' ? channel.stream : channel.name;
}

/** Types follow what clients read (numbers here, digit strings there); see the README's XC section. */
function streamEntry(channel: Channel, placement: { categoryId: number; added: number }) {
  return {
    num: channel.number ?? 0,
    name: displayName(channel),
    stream_type: 'live',
    stream_id: channel.id,
    stream_icon: channel.logo,
    epg_channel_id: channel.tvgId.trim() === '' ? null : channel.tvgId,
    added: String(placement.added),
    is_adult: 0,
    category_id: String(placement.categoryId),
    category_ids: [placement.categoryId],
    custom_sid: '',
    tv_archive: channel.catchupDays > 0 ? 1 : 0,
    direct_source: '',
    tv_archive_duration: channel.catchupDays,
    thumbnail: '',
  };
}

/**
 * `channels` in playlist order (number, then name). Categories are listed in the order their first
 * channel comes, and only those that hold a channel this package set sees.
 */
export function compileCatalog(
  channels: readonly Channel[],
  categoryNames: ReadonlyMap<number, string>,
  placements: ReadonlyMap<number, { categoryId: number; added: number }>,
): CompiledCatalog {
  const byCategory = new Map<number, object[]>();
  const streams: object[] = [];
  const visible = new Map<number, Channel>();
  for (const channel of channels) {
    // A channel the triggers have not placed (a category deleted by hand) is left out, not misfiled.
    const placement = placements.get(channel.id);
    if (!placement) continue;
    const entry = streamEntry(channel, placement);
    streams.push(entry);
    visible.set(channel.id, channel);
    const list = byCategory.get(placement.categoryId);
    if (list) list.push(entry);
    else byCategory.set(placement.categoryId, [entry]);
  }
  const categories = [...byCategory.keys()].map((id) => {
    const name = categoryNames.get(id) ?? '';
    return { category_id: String(id), category_name: name.trim() === '' ? UNGROUPED_CATEGORY_NAME : name, parent_id: 0 };
  });
  return {
    categories: json(categories),
    streams: json(streams),
    streamsByCategory: new Map([...byCategory].map(([id, list]) => [String(id), json(list)])),
    channels: visible,
  };
}
