import type { Db } from './open.js';

/** A package as the admin API lists it. */
export interface PackageSummary {
  name: string;
  description: string;
  channels: number;
  subscribers: number;
}

/** A channel as the admin API lists it; `packages` empty: every subscriber sees it. */
export interface ChannelSummary {
  id: number;
  stream: string;
  name: string;
  number: number | null;
  groupTitle: string;
  enabled: boolean;
  origin: string | null;
  packages: string[];
}

export interface ChannelRecord {
  id: number;
  stream: string;
  name: string;
  number: number | null;
  group_title: string;
  enabled: number;
  origin: string | null;
  /** A JSON array of names as text, or null for none. */
  packages: string | null;
}

/**
 * The catalog's statements; PostgreSQL's store passes its text ordering (`COLLATE "C"`, SQLite's
 * byte order) and its JSON array aggregate in place of SQLite's.
 */
export const CATALOG_SQL = {
  packages: (collate = '') => `
      SELECT p.name, p.description,
             (SELECT count(*) FROM package_channels pc WHERE pc.package_id = p.id) AS channels,
             (SELECT count(*) FROM subscriber_packages sp WHERE sp.package_id = p.id) AS subscribers
      FROM packages p ORDER BY p.name${collate}`,
  channels: (collate = '', groupArray = 'json_group_array(p.name)') => `
      SELECT c.id, c.stream, c.name, c.number, c.group_title, c.enabled, c.origin,
             (SELECT ${groupArray} FROM package_channels pc JOIN packages p ON p.id = pc.package_id
               WHERE pc.channel_id = c.id) AS packages
      FROM channels c ORDER BY c.number IS NULL, c.number, c.name${collate}, c.id`,
};

export const toChannelSummary = (row: ChannelRecord): ChannelSummary => ({
  id: row.id,
  stream: row.stream,
  name: row.name,
  number: row.number,
  groupTitle: row.group_title,
  enabled: row.enabled === 1,
  origin: row.origin,
  packages: row.packages ? (JSON.parse(row.packages) as string[]).sort() : [],
});

/** What the admin API reads of the catalog, on either backend. */
export interface CatalogReads {
  listPackages(): PackageSummary[];
  listChannels(): ChannelSummary[];
}

/** Packages and channels, read for the admin API: plain objects, in the playlist's order. */
export class CatalogStore implements CatalogReads {
  private readonly packages;
  private readonly channels;

  constructor(db: Db) {
    this.packages = db.prepare(CATALOG_SQL.packages());
    this.channels = db.prepare(CATALOG_SQL.channels());
  }

  listPackages(): PackageSummary[] {
    return this.packages.all() as PackageSummary[];
  }

  listChannels(): ChannelSummary[] {
    return (this.channels.all() as ChannelRecord[]).map(toChannelSummary);
  }
}
