import type { Channel } from '../playlist/lineup.js';
import type { OriginRow } from '../signing/origin.js';
import { valueColumnList } from './channel-columns.js';
import { idList } from './id-list.js';
import { type ChannelColumns, channelOf, ORIGIN_COLUMNS, type OriginRecord, originOf } from './lineup-rows.js';
import type { Db } from './open.js';

interface ChannelRecord extends ChannelColumns {
  package_ids: string | null;
}

/** How many times a connection's own writes moved `lineup_version`, counted by its TEMP triggers. */
interface OwnLineupWrites {
  count: number;
}

const ownLineupWrites = new WeakMap<Db, OwnLineupWrites>();

/**
 * Has this connection's own writes to `lineup_version` (the triggers of migration 8 move it on
 * every lineup change) call back into JS, so that a request learns of them without asking SQLite
 * (`total_changes()` was a statement per request). TEMP, as the audit triggers are: a trigger
 * stored in the file would call a function that other connections lack. Once per connection.
 */
function announceOwnLineupWrites(db: Db): OwnLineupWrites {
  const known = ownLineupWrites.get(db);
  if (known) return known;
  const counted: OwnLineupWrites = { count: 0 };
  db.function('lineup_own_lineup_write', { deterministic: false }, () => {
    counted.count++;
    return null;
  });
  for (const event of ['INSERT', 'UPDATE', 'DELETE']) {
    db.exec(
      `CREATE TEMP TRIGGER IF NOT EXISTS lineup_version_own_${event.toLowerCase()} AFTER ${event} ON main.lineup_version
       BEGIN SELECT lineup_own_lineup_write(); END`,
    );
  }
  ownLineupWrites.set(db, counted);
  return counted;
}

/** Reads the lineup, and tells cheaply whether anyone (this process or another) has written since. */
export class LineupStore {
  private readonly dataVersionQuery;
  private readonly ownChangesQuery;
  private readonly lineupVersionQuery;
  private readonly lineupChangesQuery;
  /** data_version as of this event-loop turn; undefined once the turn is over. */
  private dataVersionThisTurn: number | undefined;
  private readonly ownWrites: OwnLineupWrites;
  /** The row of lineup_version is gone: then every write counts, this connection's by total_changes(). */
  private everyWriteCounts = false;
  /** data_version and this connection's writes at the last look at lineup_version, and what it said. */
  private dataVersionSeen: number | undefined;
  private ownWritesSeen: number | undefined;
  private marker = '';
  private readonly channelsQuery;
  private readonly originsQuery;

  constructor(db: Db) {
    // data_version moves when another connection commits; total_changes when this one writes
    // anything (asked for /healthz, and for the marker only while lineup_version's row is gone).
    this.dataVersionQuery = db.prepare('PRAGMA data_version').pluck();
    this.ownChangesQuery = db.prepare('SELECT total_changes()').pluck();
    this.ownWrites = announceOwnLineupWrites(db);
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
    this.originsQuery = db.prepare(`SELECT ${ORIGIN_COLUMNS} FROM origins ORDER BY name`);
  }

  /**
   * Moves when what playlists are compiled from (channels, origins, packages, their channels,
   * categories) may have changed, and not when only subscribers did. Read once `changeMarkerValue` moved.
   */
  lineupOnlyVersion(): string {
    return String(this.lineupChangesQuery.get());
  }

  /**
   * Changes whenever the lineup (channels, origins, packages, subscribers, their keys) may have
   * changed; writes to other tables leave it as it was. This connection's own writes show at once
   * (its TEMP triggers count them, without a statement per request). Other connections' commits
   * show from the next event-loop turn: asking SQLite opens a read transaction (two file locks),
   * so under load one check serves every request that arrived together. A request is read in a turn that began after it was sent, so it still sees every
   * commit made before it was sent.
   */
  changeMarkerValue(): string {
    const dataVersion = this.dataVersion();
    if (dataVersion === this.dataVersionSeen && this.ownWritesNow() === this.ownWritesSeen) return this.marker;
    // Something was written: the lineup, or only activity (playlist_ips). The triggers of
    // migration 8 move lineup_version for the first kind only, so activity recompiles nothing.
    const version = this.lineupVersionQuery.get() as number;
    this.everyWriteCounts = version < 0;
    this.dataVersionSeen = dataVersion;
    this.ownWritesSeen = this.ownWritesNow();
    this.marker = version < 0 ? `writes ${dataVersion}:${this.ownWritesSeen}` : `version ${version}`;
    return this.marker;
  }

  /**
   * Changes whenever anything at all was written, as of this turn: for `/healthz`, which reads the
   * lineup again after any write, to find a damaged page before a lineup change would.
   */
  writeMarkerValue(): string {
    return `${this.dataVersion()}:${this.ownChangesQuery.get() as number}`;
  }

  /** This connection's writes that may change the marker: those that moved lineup_version, or any without its row. */
  private ownWritesNow(): number {
    return this.everyWriteCounts ? (this.ownChangesQuery.get() as number) : this.ownWrites.count;
  }

  /** Other connections' commits show in data_version, asked once per event-loop turn. */
  private dataVersion(): number {
    if (this.dataVersionThisTurn === undefined) {
      this.dataVersionThisTurn = this.dataVersionQuery.get() as number;
      setImmediate(() => {
        this.dataVersionThisTurn = undefined;
      });
    }
    return this.dataVersionThisTurn;
  }

  channels(): Channel[] {
    return (this.channelsQuery.all() as ChannelRecord[]).map((row) => channelOf(row, idList(row.package_ids)));
  }

  origins(): OriginRow[] {
    return (this.originsQuery.all() as OriginRecord[]).map(originOf);
  }
}
