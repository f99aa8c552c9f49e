import type { CatalogSource } from '../xtream/catalog.js';
import type { Db } from './open.js';

/** A channel's category and when it was added (Unix seconds; 0 where its created_at is unreadable). */
export interface ChannelPlacement {
  categoryId: number;
  added: number;
}

/** Channel id, category id, created_at in Unix seconds (NULL: unreadable), as both backends select them. */
export type PlacementRow = [number, number, number | null];

export function placementsOf(rows: readonly PlacementRow[]): Map<number, ChannelPlacement> {
  return new Map(rows.map(([channelId, categoryId, added]) => [channelId, { categoryId, added: added ?? 0 }]));
}

/** Category ids (stored, stable) and channels' placement in them, for the Xtream Codes lists. */
export class XcCatalogStore implements CatalogSource {
  private readonly categoriesQuery;
  private readonly placementsQuery;

  constructor(db: Db) {
    this.categoriesQuery = db.prepare('SELECT id, group_title FROM categories').raw();
    this.placementsQuery = db
      .prepare(
        `SELECT c.id, cat.id, CAST(strftime('%s', c.created_at) AS INTEGER)
         FROM channels c JOIN categories cat ON cat.group_title = c.group_title WHERE c.enabled = 1`,
      )
      .raw();
  }

  categories(): Map<number, string> {
    return new Map(this.categoriesQuery.all() as Array<[number, string]>);
  }

  channelPlacements(): Map<number, ChannelPlacement> {
    return placementsOf(this.placementsQuery.all() as PlacementRow[]);
  }
}
