import type { Channel } from '../../playlist/lineup.js';
import type { LineupSource } from '../../playlist/lineup-cache.js';
import type { OriginRow } from '../../signing/origin.js';
import type { CatalogSource } from '../../xtream/catalog.js';
import type { ChannelPlacement } from '../xc-catalog-store.js';
import type { LineupSnapshot } from './lineup-snapshot.js';

/** How long a failed reload waits before the next request may try again. */
const RETRY_MS = 1000;

/**
 * The lineup of a PostgreSQL database, held in memory and read again when the change feed (or its
 * poll, while the feed is down) reports a newer version. Requests read it synchronously, as they
 * read SQLite's; a request that arrives while a newer version is known awaits the one reload in
 * flight (`ready`), so that no response is compiled from a lineup older than the last notice.
 * A reload that fails keeps the lineup already held: playlists stay served through a short outage,
 * and `/healthz` reports the database.
 */
export class PostgresLineupMirror implements LineupSource, CatalogSource {
  private snapshot: Omit<LineupSnapshot, 'accessVersion'> = {
    lineupVersion: '',
    channels: [],
    origins: [],
    categories: new Map(),
    placements: new Map(),
  };
  private reloading: Promise<void> | undefined;
  private failedAt = Number.NEGATIVE_INFINITY;
  /**
   * The last version reported that the lineup held was found as new as: every request asks
   * `ready`, and comparing the same text again is cheaper than two BigInts each time (about 1% of
   * a warm 304's instructions, docs/performance.md). Versions only move forward, so it stays true.
   */
  private covered: string | undefined;

  constructor(
    private readonly read: () => Promise<LineupSnapshot>,
    /** The newest version the change feed has reported, if any. */
    private readonly reported: () => string | undefined,
    private readonly onReloadError: (error: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** The first read, at start: a failure stops the start. */
  async load(): Promise<void> {
    this.snapshot = await this.read();
  }

  /** A promise while a newer lineup is being read (or about to be); undefined when the one held is current. */
  ready(): Promise<void> | undefined {
    if (this.reloading) return this.reloading;
    const wanted = this.reported();
    if (wanted === undefined || wanted === this.covered) return undefined;
    if (!isNewer(wanted, this.snapshot.lineupVersion)) {
      this.covered = wanted;
      return undefined;
    }
    if (this.now() - this.failedAt < RETRY_MS) return undefined;
    this.reloading = this.read().then(
      (snapshot) => {
        if (isNewer(snapshot.lineupVersion, this.snapshot.lineupVersion)) this.snapshot = snapshot;
        this.reloading = undefined;
      },
      (error: unknown) => {
        this.failedAt = this.now();
        this.reloading = undefined;
        this.onReloadError(error);
      },
    );
    return this.reloading;
  }

  changeMarkerValue(): string {
    return this.snapshot.lineupVersion;
  }

  lineupOnlyVersion(): string {
    return this.snapshot.lineupVersion;
  }

  channels(): Channel[] {
    return this.snapshot.channels;
  }

  origins(): OriginRow[] {
    return this.snapshot.origins;
  }

  /** The Xtream Codes categories, read in the same snapshot as the channels. */
  categories(): Map<number, string> {
    return this.snapshot.categories;
  }

  channelPlacements(): Map<number, ChannelPlacement> {
    return this.snapshot.placements;
  }
}

/** Versions are decimal counters; compared as numbers, not as text ('10' < '9'). */
function isNewer(version: string, than: string): boolean {
  return than === '' || BigInt(version) > BigInt(than);
}
