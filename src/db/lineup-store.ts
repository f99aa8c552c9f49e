import type { ChannelValueColumns } from '../channels/channel-fields.js';
import type { Channel } from '../playlist/lineup.js';
import type { HashSubject, IpBinding, LinkMode, OriginRow, SigningScheme } from '../signing/origin.js';
import { fromColumns, valueColumnList } from './channel-columns.js';
import { idList } from './id-list.js';
import type { Db } from './open.js';

interface ChannelRecord extends ChannelValueColumns {
  id: number;
  stream: string;
  origin: string | null;
  package_ids: string | null;
}

interface OriginRecord {
  name: string;
  base_url: string;
  scheme: SigningScheme;
  secret: string;
  ip_binding: IpBinding;
  hash_subject: HashSubject;
  token_ttl: number | null;
  token_desync: number | null;
  link_mode: LinkMode | null;
  previous_secret: string | null;
}

/** Reads the lineup, and tells cheaply whether anyone (this process or another) has written since. */
export class LineupStore {
  private readonly dataVersionQuery;
  private readonly ownChangesQuery;
  private readonly lineupVersionQuery;
  private readonly lineupChangesQuery;
  /** data_version as of this event-loop turn; undefined once the turn is over. */
  private dataVersionThisTurn: number | undefined;
  /** The writes seen at the last look at lineup_version, and what it said. */
  private writesSeen: string | undefined;
  private marker = '';
  private readonly channelsQuery;
  private readonly originsQuery;

  constructor(db: Db) {
    // data_version moves when another connection commits; total_changes when this one writes.
    this.dataVersionQuery = db.prepare('PRAGMA data_version').pluck();
    this.ownChangesQuery = db.prepare('SELECT total_changes()').pluck();
    // -1 when an admin deleted the row: then every write counts, as before the counter existed.
    this.lineupVersionQuery = db.prepare('SELECT coalesce((SELECT version FROM lineup_version WHERE id = 1), -1)').pluck();
    // lineup_changes (migration 11) moves on writes to the lineup's own tables only; a schema
    // change (a column added by hand, say) shows in schema_version. A deleted row: every change counts.
    this.lineupChangesQuery = db
      .prepare(
        "SELECT coalesce((SELECT version FROM lineup_changes WHERE id = 1), 'writes ' || total_changes() || ':' || random()) || ':' || (SELECT schema_version FROM pragma_schema_version)",
      )
      .pluck();
    this.channelsQuery = db.prepare(`
      SELECT c.id, c.stream, ${valueColumnList('c')}, c.origin,
             (SELECT group_concat(pc.package_id) FROM package_channels pc WHERE pc.channel_id = c.id) AS package_ids
      FROM channels c
      WHERE c.enabled = 1
      ORDER BY c.number IS NULL, c.number, c.name, c.id`);
    this.originsQuery = db.prepare(`
      SELECT name, base_url, scheme, secret, ip_binding, hash_subject, token_ttl, token_desync, link_mode, previous_secret
      FROM origins ORDER BY name`);
  }

  /**
   * Changes whenever the lineup (channels, origins, packages, subscribers, their keys) may have
   * changed; writes to other tables leave it as it was. This connection's own writes show
   * at once. Other connections' commits show from the next event-loop turn: asking SQLite opens a
   * read transaction (two file locks), so under load one check serves every request that arrived
   * together. A request is read in a turn that began after it was sent, so it still sees every
   * commit made before it was sent.
   */
  /**
   * Moves when what playlists are compiled from (channels, origins, packages, their channels,
   * categories) may have changed, and not when only subscribers did. Read once `changeMarkerValue` moved.
   */
  lineupOnlyVersion(): string {
    return String(this.lineupChangesQuery.get());
  }

  changeMarkerValue(): string {
    const writes = this.writeMarkerValue();
    if (writes === this.writesSeen) return this.marker;
    // Something was written: the lineup, or only activity (playlist_ips). The triggers of
    // migration 8 move lineup_version for the first kind only, so activity recompiles nothing.
    const version = this.lineupVersionQuery.get() as number;
    this.marker = version < 0 ? `writes ${writes}` : `version ${version}`;
    this.writesSeen = writes;
    return this.marker;
  }

  /**
   * Changes whenever anything at all was written, as of this turn: for `/healthz`, which reads the
   * lineup again after any write, to find a damaged page before a lineup change would.
   */
  writeMarkerValue(): string {
    if (this.dataVersionThisTurn === undefined) {
      this.dataVersionThisTurn = this.dataVersionQuery.get() as number;
      setImmediate(() => {
        this.dataVersionThisTurn = undefined;
      });
    }
    return `${this.dataVersionThisTurn}:${this.ownChangesQuery.get() as number}`;
  }

  channels(): Channel[] {
    return (this.channelsQuery.all() as ChannelRecord[]).map((row) => ({
      id: row.id,
      stream: row.stream,
      ...fromColumns(row),
      origin: row.origin,
      packageIds: idList(row.package_ids),
    }));
  }

  origins(): OriginRow[] {
    return (this.originsQuery.all() as OriginRecord[]).map((row) => ({
      name: row.name,
      baseUrl: row.base_url.replace(/\/+$/, ''),
      scheme: row.scheme,
      secret: row.secret,
      ipBinding: row.ip_binding,
      hashSubject: row.hash_subject,
      tokenTtl: row.token_ttl,
      tokenDesync: row.token_desync,
      linkMode: row.link_mode,
      ...(row.previous_secret === null ? {} : { previousSecret: row.previous_secret }),
    }));
  }
}
