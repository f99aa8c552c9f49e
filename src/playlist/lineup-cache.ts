import { type Awaitable, andThen } from '../awaitable.js';
import { canonicalPath } from '../routes.js';
import type { LinkMode, Origin, OriginRow, StreamFormat } from '../signing/origin.js';
import { encodedStreamName, originFromRow } from '../signing/origin.js';
import { type CompiledPlaylist, compilePlaylist, type HeaderOptions, type LinkOptions } from './compile.js';
import { type Channel, isVisible } from './lineup.js';

/** Where the lineup comes from (the database), and a marker that moves when it may have changed. */
export interface LineupSource {
  changeMarkerValue(): string;
  /** Moves when what playlists are compiled from may have changed: not on a write to subscribers alone. */
  lineupOnlyVersion(): string;
  channels(): Channel[];
  origins(): OriginRow[];
  /**
   * While a newer lineup is being loaded (PostgreSQL, after a change was notified): the one reload in
   * flight, the same promise to every caller, settled once the methods above answer from it.
   * Undefined when the lineup at hand is current; SQLite reads synchronously and has no such method.
   */
  ready?(): Promise<void> | undefined;
}

/** A channel of a `backend` origin, as the auth backend looks it up. */
export interface BackendStream {
  channel: Channel;
  origin: Origin;
}

/** The channels of `backend` origins by stream name, and by the path their origin serves them under. */
interface BackendStreams {
  byName: Map<string, BackendStream[]>;
  byPath: Map<string, BackendStream[]>;
}

const NONE: readonly BackendStream[] = [];

export interface LineupSettings extends HeaderOptions {
  defaultOrigin: Origin;
  /** LINK_MODE: for the default origin, and for origins whose `link_mode` is NULL. */
  linkMode: LinkMode;
  /** PUBLIC_URL, the base of redirect-mode links. */
  publicUrl: string;
}

/**
 * Compiled playlists per package set and format, rebuilt when the database changes. A change from
 * any process (the sqlite3 shell, `lineup sql`) shows in the very next request: each request calls
 * `refresh()` once, and everything else answers as of that check, so one request sees one state.
 */
export class LineupCache {
  private marker: string | undefined;
  private lineupVersion: string | undefined;
  private compilationCount = 0;
  private channels: Channel[] = [];
  private origins = new Map<string, Origin>();
  private linkModes = new Map<string, LinkMode>();
  private readonly links: LinkOptions;
  private readonly compiled = new Map<string, CompiledPlaylist>();
  private generationCount = 0;
  private shortestLife = Number.POSITIVE_INFINITY;
  private backendIndex: BackendStreams | undefined;

  constructor(
    private readonly source: LineupSource,
    private readonly settings: LineupSettings,
  ) {
    this.links = { publicUrl: settings.publicUrl, linkModeOf: (channel) => this.linkModeOf(channel) };
  }

  /**
   * Asks the database whether anything changed since the last call; if so, moves the generation
   * (subscribers may have changed: everything keyed on it starts again), and recompiles only if
   * the lineup itself changed. A prune of 200,000 in chunks commits 40 times, a renewal once:
   * neither recompiles.
   */
  refresh(): void {
    const marker = this.source.changeMarkerValue();
    if (marker === this.marker) return;
    this.marker = marker;
    this.generationCount++;
    const version = this.source.lineupOnlyVersion();
    if (version === this.lineupVersion) return;
    this.lineupVersion = version;
    this.compilationCount++;
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
    this.backendIndex = undefined;
  }

  /** Undefined when the lineup at hand is current; else the reload in flight (LineupSource.ready). */
  ready(): Promise<void> | undefined {
    return this.source.ready?.();
  }

  /**
   * `use()` on the current lineup: after the reload in flight, if any, then `refresh()` and `use`
   * in one go, so that one answer sees one lineup. At once (synchronously) when none is in flight.
   */
  whenCurrent<T>(use: () => Awaitable<T>): Awaitable<T> {
    return andThen(this.ready(), () => {
      this.refresh();
      return use();
    });
  }

  /**
   * How many times the lineup was read and the playlists dropped for recompiling.
   * @internal Exported for the tests that show a write to subscribers alone recompiles nothing.
   */
  get compilations(): number {
    return this.compilationCount;
  }

  playlistFor(packageIds: readonly number[], format: StreamFormat): CompiledPlaylist {
    const cacheKey = `${format}:${[...packageIds].sort((a, b) => a - b).join(',')}`;
    let playlist = this.compiled.get(cacheKey);
    if (!playlist) {
      playlist = compilePlaylist(this.channelsFor(packageIds), (channel) => this.originOf(channel), format, this.settings, this.links);
      this.compiled.set(cacheKey, playlist);
    }
    return playlist;
  }

  /** The channels a package set sees, in playlist order, as of the last `refresh`. */
  channelsFor(packageIds: readonly number[]): Channel[] {
    const subscribed = new Set(packageIds);
    return this.channels.filter((channel) => isVisible(channel, subscribed));
  }

  /**
   * Moves each time the database changed (any write: the lineup, a subscriber, a package), as of
   * the last `refresh`, in this process.
   */
  get generation(): number {
    return this.generationCount;
  }

  /**
   * The database's lineup version (LineupSource.lineupOnlyVersion) as of the last `refresh`: the
   * same in every process that reads the same database, so part of every playlist's ETag.
   */
  get version(): string {
    return this.lineupVersion ?? '';
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

  /** The enabled channels of `backend` origins with this stream name (Flussonic's `name`). */
  backendStreamsNamed(stream: string): readonly BackendStream[] {
    return this.backendStreams().byName.get(stream) ?? NONE;
  }

  /**
   * The enabled channels of `backend` origins that a request path is a file of
   * (`/live/ch1/index.m3u8`, a segment, an archive file): the longest stream path it starts with.
   * The path is taken in its one spelling first, so that `/a/../b/` names what the origin serves.
   */
  backendStreamsAt(path: string): readonly BackendStream[] {
    const { byPath } = this.backendStreams();
    let prefix = canonicalPath(path);
    while (prefix.length > 1) {
      const found = byPath.get(prefix);
      if (found) return found;
      prefix = prefix.slice(0, prefix.lastIndexOf('/'));
    }
    return NONE;
  }

  private backendStreams(): BackendStreams {
    if (this.backendIndex) return this.backendIndex;
    const index: BackendStreams = { byName: new Map(), byPath: new Map() };
    const add = (map: Map<string, BackendStream[]>, key: string, entry: BackendStream) => {
      const list = map.get(key);
      if (list) list.push(entry);
      else map.set(key, [entry]);
    };
    for (const channel of this.channels) {
      const origin = this.originOf(channel);
      if (origin.scheme !== 'backend') continue;
      const entry = { channel, origin };
      add(index.byName, channel.stream, entry);
      const basePath = new URL(origin.baseUrl).pathname.replace(/\/+$/, '');
      add(index.byPath, canonicalPath(`${basePath}/${encodedStreamName(channel.stream)}`), entry);
    }
    return (this.backendIndex = index);
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
