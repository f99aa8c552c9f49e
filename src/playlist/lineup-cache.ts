import type { LinkMode, Origin, OriginRow, StreamFormat } from '../signing/origin.js';
import { originFromRow } from '../signing/origin.js';
import { type CompiledPlaylist, compilePlaylist, type HeaderOptions, type LinkOptions } from './compile.js';
import { type Channel, isVisible } from './lineup.js';

/** Where the lineup comes from (the database), and a marker that moves when it may have changed. */
export interface LineupSource {
  changeMarkerValue(): string;
  /** A marker that moves when the lineup's own tables may have changed: not on a write to subscribers alone. */
  lineupVersion(): string;
  channels(): Channel[];
  origins(): OriginRow[];
}

export interface LineupSettings extends HeaderOptions {
  defaultOrigin: Origin;
  /** LINK_MODE: for the default origin, and for origins whose `link_mode` is NULL. */
  linkMode: LinkMode;
  /** PUBLIC_URL, the base of redirect-mode links. */
  publicUrl: string;
}

/**
 * Compiled playlists per package set and format, rebuilt when the lineup changes. A change from
 * any process (the sqlite3 shell, `lineup sql`) shows in the very next request: each request calls
 * `refresh()` once, and everything else answers as of that check, so one request sees one state.
 * A write to subscribers alone (a renewal, a prune) moves `databaseGeneration` but recompiles
 * nothing: a prune of 200,000 subscribers in chunks would otherwise recompile after each chunk.
 */
export class LineupCache {
  private marker: string | undefined;
  private version: string | undefined;
  private databaseGenerationCount = 0;
  private channels: Channel[] = [];
  private origins = new Map<string, Origin>();
  private linkModes = new Map<string, LinkMode>();
  private readonly links: LinkOptions;
  private readonly compiled = new Map<string, CompiledPlaylist>();
  private generationCount = 0;
  private shortestLife = Number.POSITIVE_INFINITY;

  constructor(
    private readonly source: LineupSource,
    private readonly settings: LineupSettings,
  ) {
    this.links = { publicUrl: settings.publicUrl, linkModeOf: (channel) => this.linkModeOf(channel) };
  }

  /** Asks the database whether anything changed since the last call, and recompiles if the lineup did. */
  refresh(): void {
    const marker = this.source.changeMarkerValue();
    if (marker === this.marker) return;
    this.marker = marker;
    this.databaseGenerationCount++;
    const version = this.source.lineupVersion();
    if (version === this.version) return;
    const defaults = this.settings.defaultOrigin;
    this.channels = this.source.channels();
    const rows = this.source.origins();
    this.origins = new Map(rows.map((row) => [row.name, originFromRow(row, defaults)]));
    this.linkModes = new Map(rows.map((row) => [row.name, row.linkMode ?? this.settings.linkMode]));
    this.shortestLife = [defaults, ...this.origins.values()].reduce(
      (least, origin) => Math.min(least, origin.tokenTtl - origin.tokenDesync),
      Number.POSITIVE_INFINITY,
    );
    this.compiled.clear();
    this.generationCount++;
    this.version = version;
  }

  playlistFor(packageIds: readonly number[], format: StreamFormat): CompiledPlaylist {
    const cacheKey = `${format}:${[...packageIds].sort((a, b) => a - b).join(',')}`;
    let playlist = this.compiled.get(cacheKey);
    if (!playlist) {
      const subscribed = new Set(packageIds);
      const visible = this.channels.filter((channel) => isVisible(channel, subscribed));
      playlist = compilePlaylist(visible, (channel) => this.originOf(channel), format, this.settings, this.links);
      this.compiled.set(cacheKey, playlist);
    }
    return playlist;
  }

  /**
   * Moves each time the lineup changed and the playlists were compiled again (channels, origins,
   * packages), as of the last `refresh`. Part of every ETag.
   */
  get generation(): number {
    return this.generationCount;
  }

  /** Moves each time anything in the database may have changed (subscribers too), as of the last `refresh`. */
  get databaseGeneration(): number {
    return this.databaseGenerationCount;
  }

  /** The least `token_ttl − token_desync` of any origin, as of the last `refresh`. */
  get shortestTokenLife(): number {
    return this.shortestLife;
  }

  /** A channel of the current lineup (enabled) and its origin, for requests that name one (`/play`). */
  channelById(id: number): { channel: Channel; origin: Origin } | undefined {
    const channel = this.channels.find((candidate) => candidate.id === id);
    return channel && { channel, origin: this.originOf(channel) };
  }

  private originOf(channel: Channel): Origin {
    if (channel.origin === null) return this.settings.defaultOrigin;
    // The foreign key guarantees the row; the fallback covers a row deleted with foreign keys off.
    return this.origins.get(channel.origin) ?? this.settings.defaultOrigin;
  }

  private linkModeOf(channel: Channel): LinkMode {
    if (channel.origin === null) return this.settings.linkMode;
    return this.linkModes.get(channel.origin) ?? this.settings.linkMode;
  }
}
