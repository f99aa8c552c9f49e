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

interface ChannelRecord {
  id: number;
  stream: string;
  name: string;
  number: number | null;
  group_title: string;
  enabled: number;
  origin: string | null;
  packages: string | null;
}

/** Packages and channels, read for the admin API: plain objects, in the playlist's order. */
export class CatalogStore {
  private readonly packages;
  private readonly channels;

  constructor(db: Db) {
    this.packages = db.prepare(`
      SELECT p.name, p.description,
             (SELECT count(*) FROM package_channels pc WHERE pc.package_id = p.id) AS channels,
             (SELECT count(*) FROM subscriber_packages sp WHERE sp.package_id = p.id) AS subscribers
      FROM packages p ORDER BY p.name`);
    this.channels = db.prepare(`
      SELECT c.id, c.stream, c.name, c.number, c.group_title, c.enabled, c.origin,
             (SELECT json_group_array(p.name) FROM package_channels pc JOIN packages p ON p.id = pc.package_id
               WHERE pc.channel_id = c.id) AS packages
      FROM channels c ORDER BY c.number IS NULL, c.number, c.name, c.id`);
  }

  listPackages(): PackageSummary[] {
    return this.packages.all() as PackageSummary[];
  }

  listChannels(): ChannelSummary[] {
    return (this.channels.all() as ChannelRecord[]).map((row) => ({
      id: row.id,
      stream: row.stream,
      name: row.name,
      number: row.number,
      groupTitle: row.group_title,
      enabled: row.enabled === 1,
      origin: row.origin,
      packages: row.packages ? (JSON.parse(row.packages) as string[]).sort() : [],
    }));
  }
}
