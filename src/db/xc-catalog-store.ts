import type { CatalogSource } from '../xtream/catalog.js';
import type { Db } from './open.js';

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

  channelPlacements(): Map<number, { categoryId: number; added: number }> {
    const rows = this.placementsQuery.all() as Array<[number, number, number | null]>;
    return new Map(rows.map(([channelId, categoryId, added]) => [channelId, { categoryId, added: added ?? 0 }]));
  }
}
